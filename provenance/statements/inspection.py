"""What the hardware says: `nvidia-smi -q -x` output attached to an inspection.

An auditor inspecting a datacenter runs `nvidia-smi -q -x` on a host and attaches
the XML to an inspection statement. `parse_nvidia_smi` turns those bytes into an
`SmiReport`: the SHA-256 of the exact bytes (the file is the evidence; the digest
binds the statement to it) and, per `<gpu>`, the fields the rules engine compares
with what the papers declared (product name, serial, UUID, PCI device id, board
part number, ...), so a relabelled chip shows up as a mismatch.

The XML comes from the field, so it is parsed with `defusedxml`: a DTD that
declares entities (billion laughs, external entities / XXE) is refused, and so
is anything over `MAX_SMI_BYTES`. A plain internal DTD is accepted, because
`nvidia-smi -q -x --dtd` really embeds one (element declarations only).

Accepted variations, all seen in recorded outputs (see tests/data/nvidia-smi/):
tab or space indentation, `<cuda_version>` missing (drivers before ~410) or
"Not Found", `<pci_device_id>` with or without a `0x` prefix, PCI bus ids with a
4- or 8-digit domain, `<board_part_number>` missing (older drivers), N/A for the
serial of consumer cards, `<attached_gpus>` larger than the number of `<gpu>`
elements (a trimmed file; recorded in `SmiReport.attached_gpus`), UTF-8 or
UTF-16 with a byte order mark (PowerShell redirection).

Values nvidia-smi prints when it has none ("N/A", "Not Found", "[Not Supported]",
"Requested functionality has been deprecated", ...) become None. Everything else
is kept as printed, stripped of surrounding whitespace, except the PCI device id,
which is normalised to "0x" + 8 uppercase hex digits (device id then vendor id:
0x233010DE is device 0x2330, vendor 0x10DE = NVIDIA).

`parse_nvidia_smi` is pure (bytes in, report out). `read_nvidia_smi` reads a
file for it, never more than `MAX_SMI_BYTES` + 1 bytes, so a huge or endless
file (a device, a pipe) is refused without being loaded. Nothing here prints;
every failure is an `InputError` (exit code 2) with a hint.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from provenance.errors import InputError

__all__ = [
    "MAX_SMI_BYTES",
    "NO_VALUE_MARKERS",
    "ObservedDevice",
    "SmiReport",
    "normalise_pci_device_id",
    "parse_nvidia_smi",
    "read_nvidia_smi",
]

MAX_SMI_BYTES = 16 * 1024 * 1024
"""Largest accepted file. A busy 8-GPU host prints well under 1 MiB."""

ROOT_TAG = "nvidia_smi_log"

NO_VALUE_MARKERS = frozenset(
    {
        "",
        "n/a",
        "[n/a]",
        "not found",
        "not supported",
        "[not supported]",
        "unknown error",
        "[unknown error]",
        "insufficient permissions",
        "[insufficient permissions]",
        "requested functionality has been deprecated",
    }
)
"""What nvidia-smi prints instead of a value (lowercased), across driver versions."""

_PCI_DEVICE_ID = re.compile(r"(?:0[xX])?([0-9A-Fa-f]{8})")
_MIB = re.compile(r"([0-9]{1,12}) ?MiB")
_HINT = "attach the unmodified output of `nvidia-smi -q -x` (redirected to a file)"


@dataclass(frozen=True)
class ObservedDevice:
    """One `<gpu>` of the log, as the hardware describes itself."""

    index: int
    """Position of the `<gpu>` element in the file, from 0."""
    product_name: str
    serial: str | None
    """Board serial. N/A on consumer cards; shared by the GPUs of a dual-GPU board."""
    uuid: str | None
    pci_device_id: str | None
    """ "0x" + 8 uppercase hex digits: PCI device id then vendor id."""
    board_part_number: str | None
    bus_id: str | None
    """`<pci><pci_bus_id>` as printed, else the `id` attribute of `<gpu>`."""
    product_brand: str | None = None
    product_architecture: str | None = None
    vbios_version: str | None = None
    gpu_part_number: str | None = None
    pci_sub_system_id: str | None = None
    """Subsystem (board vendor) id, normalised like `pci_device_id`."""
    memory_total_mib: int | None = None
    """`<fb_memory_usage><total>` in MiB."""
    multigpu_board: bool | None = None
    mig_mode: str | None = None
    """Current MIG mode ("Enabled", "Disabled") where the driver reports it."""

    @property
    def device_id(self) -> str | None:
        """The PCI device id alone, "0x" + 4 uppercase hex digits ("0x2330" for an H100 SXM5)."""
        return None if self.pci_device_id is None else self.pci_device_id[:6]

    @property
    def vendor_id(self) -> str | None:
        """The PCI vendor id alone, "0x" + 4 uppercase hex digits ("0x10DE" is NVIDIA)."""
        return None if self.pci_device_id is None else "0x" + self.pci_device_id[6:]

    def to_json(self) -> dict[str, object]:
        """The device as a JSON-ready object (keys in a fixed order).

        Every field, plus the derived `device_id` and `vendor_id`.
        """
        return {
            "index": self.index,
            "product_name": self.product_name,
            "serial": self.serial,
            "uuid": self.uuid,
            "pci_device_id": self.pci_device_id,
            "device_id": self.device_id,
            "vendor_id": self.vendor_id,
            "board_part_number": self.board_part_number,
            "bus_id": self.bus_id,
            "product_brand": self.product_brand,
            "product_architecture": self.product_architecture,
            "vbios_version": self.vbios_version,
            "gpu_part_number": self.gpu_part_number,
            "pci_sub_system_id": self.pci_sub_system_id,
            "memory_total_mib": self.memory_total_mib,
            "multigpu_board": self.multigpu_board,
            "mig_mode": self.mig_mode,
        }


@dataclass(frozen=True)
class SmiReport:
    """A parsed `nvidia-smi -q -x` file and the digest of its exact bytes."""

    digest: str
    """Lowercase hex SHA-256 of the raw bytes, as given."""
    driver_version: str | None
    cuda_version: str | None
    timestamp: str | None
    """As printed, e.g. "Fri Aug  4 11:44:30 2023" (host local time, no zone)."""
    devices: tuple[ObservedDevice, ...]
    attached_gpus: int | None = None
    """What the log says is attached; may exceed len(devices) in a trimmed file."""

    @property
    def complete(self) -> bool:
        """False when the log says more GPUs are attached than it lists."""
        return self.attached_gpus is None or self.attached_gpus <= len(self.devices)

    def to_json(self) -> dict[str, object]:
        """The report as a JSON-ready object."""
        return {
            "digest": self.digest,
            "driver_version": self.driver_version,
            "cuda_version": self.cuda_version,
            "timestamp": self.timestamp,
            "attached_gpus": self.attached_gpus,
            "complete": self.complete,
            "devices": [device.to_json() for device in self.devices],
        }


def normalise_pci_device_id(value: str) -> str:
    """ "233010de", "0x233010DE" -> "0x233010DE"; anything else is an InputError."""
    match = _PCI_DEVICE_ID.fullmatch(value.strip())
    if match is None:
        raise InputError(f"{value!r} is not a PCI device id: want 8 hex digits such as 0x233010DE")
    return "0x" + match.group(1).upper()


def parse_nvidia_smi(data: bytes, *, source: str = "<input>") -> SmiReport:
    """Parse `nvidia-smi -q -x` output; `source` names the file in error messages.

    Raises InputError, naming `source`, for anything that is not such output
    or that carries an XML attack (entity declarations, external entities).
    """
    given: object = data  # typed callers pass bytes; be strict with the others
    if not isinstance(given, bytes | bytearray | memoryview):
        raise InputError(f"{source}: nvidia-smi output must be bytes, not {type(given).__name__}")
    raw = bytes(given)
    if len(raw) > MAX_SMI_BYTES:
        raise _too_large(source, len(raw))
    if not raw.strip():
        raise _not_smi(source, "the file is empty")
    root = _parse_xml(raw, source)
    if root.tag != ROOT_TAG:
        raise _not_smi(source, f"root element is <{root.tag}>, want <{ROOT_TAG}>")
    gpus = root.findall("gpu")
    attached = _attached_gpus(root)
    if not gpus:
        said = f" (<attached_gpus> says {attached})" if attached is not None else ""
        raise _not_smi(source, f"it lists no <gpu> elements{said}")
    devices = tuple(_device(gpu, index, source) for index, gpu in enumerate(gpus))
    return SmiReport(
        digest=hashlib.sha256(raw).hexdigest(),
        driver_version=_value(root.find("driver_version")),
        cuda_version=_value(root.find("cuda_version")),
        timestamp=_value(root.find("timestamp")),
        devices=devices,
        attached_gpus=attached,
    )


def read_nvidia_smi(path: str | os.PathLike[str]) -> SmiReport:
    """Read and parse an `nvidia-smi -q -x` file; errors name the path.

    At most `MAX_SMI_BYTES` + 1 bytes are read: a larger file is refused
    without being loaded. The digest is that of the whole file.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            data = handle.read(MAX_SMI_BYTES + 1)
            if len(data) > MAX_SMI_BYTES:
                size = os.fstat(handle.fileno()).st_size
                raise _too_large(name, max(size, len(data)))
    except IsADirectoryError:
        raise InputError(
            f"{name} is a directory, not an nvidia-smi -q -x file", hint=_HINT
        ) from None
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", hint=_HINT) from None
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}", hint=_HINT) from None
    return parse_nvidia_smi(data, source=name)


def _too_large(source: str, size: int) -> InputError:
    return InputError(
        f"{source} is too large to be nvidia-smi -q -x output: "
        f"{size} bytes, the limit is {MAX_SMI_BYTES} bytes (16 MiB)",
        hint=_HINT,
    )


def _parse_xml(raw: bytes, source: str) -> Element:
    try:
        root = SafeElementTree.fromstring(
            raw, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except EntitiesForbidden as exc:
        raise InputError(
            f"{source} is refused: its DTD declares the entity {exc.name!r} "
            "(entity expansion or external entity); nvidia-smi output never declares entities",
            hint=_HINT,
        ) from None
    except ExternalReferenceForbidden as exc:
        raise InputError(
            f"{source} is refused: it refers to the external resource {exc.sysid!r}; "
            "nvidia-smi output never does",
            hint=_HINT,
        ) from None
    except DTDForbidden:  # pragma: no cover - DTDs are allowed, see forbid_dtd
        raise InputError(f"{source} is refused: it carries a DTD", hint=_HINT) from None
    except DefusedXmlException as exc:
        raise InputError(
            f"{source} is refused: it uses an XML feature that is not accepted ({exc})",
            hint=_HINT,
        ) from None
    except ParseError as exc:
        raise _not_smi(source, f"not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # unknown or multi-byte declared encodings
        raise _not_smi(source, f"its character encoding is not supported ({exc})") from None
    return root


def _not_smi(source: str, reason: str) -> InputError:
    return InputError(f"{source} is not nvidia-smi -q -x output: {reason}", hint=_HINT)


def _value(element: Element | None) -> str | None:
    """The text of a leaf as printed (stripped); None when absent or a no-value marker."""
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    if text.lower() in NO_VALUE_MARKERS:
        return None
    return text


def _first(gpu: Element, *paths: str) -> str | None:
    for path in paths:
        value = _value(gpu.find(path))
        if value is not None:
            return value
    return None


def _attached_gpus(root: Element) -> int | None:
    value = _value(root.find("attached_gpus"))
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 6:
        return None
    return int(value)


def _device(gpu: Element, index: int, source: str) -> ObservedDevice:
    bus_id = _first(gpu, "pci/pci_bus_id") or _clean_attribute(gpu.get("id"))
    where = f"<gpu> #{index}" + (f" (bus {bus_id})" if bus_id else "")
    product_name = _value(gpu.find("product_name"))
    if product_name is None:
        raise _not_smi(source, f"{where} has no <product_name>")
    return ObservedDevice(
        index=index,
        product_name=product_name,
        serial=_value(gpu.find("serial")),
        uuid=_value(gpu.find("uuid")),
        pci_device_id=_pci_id(_first(gpu, "pci/pci_device_id", "pci_device_id"), where, source),
        board_part_number=_value(gpu.find("board_part_number")),
        bus_id=bus_id,
        product_brand=_value(gpu.find("product_brand")),
        product_architecture=_value(gpu.find("product_architecture")),
        vbios_version=_value(gpu.find("vbios_version")),
        gpu_part_number=_value(gpu.find("gpu_part_number")),
        pci_sub_system_id=_pci_id(
            _first(gpu, "pci/pci_sub_system_id", "pci_sub_system_id"), where, source
        ),
        memory_total_mib=_mib(_value(gpu.find("fb_memory_usage/total"))),
        multigpu_board=_yes_no(_value(gpu.find("multigpu_board"))),
        mig_mode=_value(gpu.find("mig_mode/current_mig")),
    )


def _clean_attribute(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value.lower() in NO_VALUE_MARKERS else value


def _pci_id(value: str | None, where: str, source: str) -> str | None:
    if value is None:
        return None
    match = _PCI_DEVICE_ID.fullmatch(value)
    if match is None:
        raise InputError(
            f"{source}: {where} has a malformed PCI id {value!r}: "
            "want 8 hex digits such as 0x233010DE",
            hint=_HINT,
        )
    return "0x" + match.group(1).upper()


def _mib(value: str | None) -> int | None:
    if value is None:
        return None
    match = _MIB.fullmatch(value)
    return int(match.group(1)) if match else None


def _yes_no(value: str | None) -> bool | None:
    if value == "Yes":
        return True
    if value == "No":
        return False
    return None


def evidence(report: SmiReport, name: str) -> dict[str, object]:
    """The `evidence` entry of an inspection statement for one parsed file: its name,
    the digest of its exact bytes, and what each GPU in it reported."""
    devices: list[dict[str, object]] = []
    for device in report.devices:
        observed: dict[str, object] = {"product_name": device.product_name}
        for field in ("serial", "uuid", "pci_device_id", "board_part_number"):
            value = getattr(device, field)
            if value:
                observed[field] = value
        devices.append(observed)
    found: dict[str, object] = {"file": name, "sha256": report.digest, "devices": devices}
    if report.driver_version:
        found["driver_version"] = report.driver_version
    return found

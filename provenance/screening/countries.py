"""Country names and codes as the screening lists and their users write them.

The Consolidated Screening List ends each address with an ISO 3166-1 alpha-2
code ("..., Beijing, CN") and gives nationalities and citizenships as codes too,
but older rows and user input also carry names ("China", "Russia"). Everything
is reduced to the alpha-2 code; `pycountry` knows the official names, and a
short table adds the common short forms it does not (Russia, Turkey, Burma...)
and Kosovo's user-assigned code XK, which the U.S. lists use.
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

from provenance.errors import InputError

# Codes the lists use that ISO 3166-1 does not assign.
_EXTRA_CODES = frozenset({"XK"})

# Short names in common use that pycountry's lookup does not resolve.
_COMMON_NAMES: dict[str, str] = {
    "russia": "RU",
    "turkey": "TR",
    "burma": "MM",
    "kosovo": "XK",
    "uae": "AE",
    "u.a.e.": "AE",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "south korea": "KR",
    "korea, south": "KR",
    "korea, north": "KP",
    "laos": "LA",
    "macau": "MO",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "cape verde": "CV",
    "swaziland": "SZ",
    "the netherlands": "NL",
    "holland": "NL",
    "vatican": "VA",
    "palestine": "PS",
    "west bank": "PS",
    "gaza": "PS",
}


@lru_cache(maxsize=4096)
def country_code(text: str) -> str | None:
    """The ISO-2 code for a country code or name, or None when it is not one.

    Accepts alpha-2 and alpha-3 codes in any case, official and common English
    names. Never raises.
    """
    value = " ".join(text.split())
    if not value:
        return None
    upper = value.upper()
    if len(value) == 2 and value.isascii() and value.isalpha():
        if upper in _EXTRA_CODES:
            return upper
        found = pycountry.countries.get(alpha_2=upper)
        return None if found is None else str(found.alpha_2)
    if len(value) == 3 and value.isascii() and value.isalpha():
        found = pycountry.countries.get(alpha_3=upper)
        if found is not None:
            return str(found.alpha_2)
    common = _COMMON_NAMES.get(value.lower())
    if common is not None:
        return common
    try:
        return str(pycountry.countries.lookup(value).alpha_2)
    except (LookupError, KeyError, ValueError, AttributeError):
        return None


def require_country(text: str) -> str:
    """The ISO-2 code for `text`; InputError when it names no country."""
    code = country_code(text)
    if code is None:
        raise InputError(
            f"unknown country: {text!r}",
            hint="give an ISO 3166-1 alpha-2 code such as CN, RU or AE",
        )
    return code

"""Names and licences of the knowledge sources, as written on every node and edge they contribute."""

from __future__ import annotations

HETIONET = "Hetionet v1.0"
SIDER = "SIDER 4.1 via Hetionet v1.0"
DDXPLUS = "DDXPlus"
ICD10CM = "ICD-10-CM"
NAME_LINKS = "carelm name match"

CC0 = "CC0-1.0"
SIDER_LICENCE = "CC-BY-NC-SA-4.0"
DDXPLUS_LICENCE = "CC-BY-4.0"
DDXPLUS_ATTRIBUTION = "DDXPlus (Fansi Tchango et al., 2022), CC-BY-4.0"
ICD10CM_LICENCE = "public domain (CDC ICD-10-CM)"
NAME_LINKS_LICENCE = "Apache-2.0"

# Licences whose content may be shipped inside carelm (CC BY needs the attribution in resources/MANIFEST.md).
REDISTRIBUTABLE = frozenset({CC0, DDXPLUS_LICENCE, ICD10CM_LICENCE, NAME_LINKS_LICENCE})

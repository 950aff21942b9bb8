"""Fictional facilities, places and identity building blocks used for synthetic PHI."""

from __future__ import annotations

HOSPITALS: tuple[str, ...] = (
    "St. Brigid Medical Center", "Harrowgate General Hospital", "Mercy Vale Regional Hospital",
    "Cedar Hollow Community Hospital", "Northbrook University Hospital", "Lakemont Memorial Hospital",
)

CLINICS: tuple[str, ...] = (
    "Birchwood Family Medicine", "Riverside Internal Medicine Associates", "Eastgate Cardiology Clinic",
    "Summit Pulmonary Clinic", "Willow Creek Health Center", "Foxglove Primary Care",
)

DOMAINS: dict[str, str] = {
    "St. Brigid Medical Center": "stbrigidmc.org", "Harrowgate General Hospital": "harrowgatehealth.org",
    "Mercy Vale Regional Hospital": "mercyvale.org", "Cedar Hollow Community Hospital": "cedarhollowch.org",
    "Northbrook University Hospital": "northbrookuh.org", "Lakemont Memorial Hospital": "lakemontmemorial.org",
}

WORKPLACES: tuple[tuple[str, str], ...] = (
    ("teacher", "Maple Ridge Elementary School"), ("forklift operator", "Ironwood Logistics warehouse"),
    ("machinist", "Copperline Manufacturing plant"), ("librarian", "Granite Falls Public Library"),
    ("groundskeeper", "Quarry Hill Golf Course"), ("dock hand", "Harbor Point Marina"),
    ("cook", "Bluebell Diner"), ("volunteer", "Brookhaven Senior Center"),
)

OUTINGS: tuple[str, ...] = (
    "Silver Lake Park", "the Pinecrest Mall", "Harbor Point Marina", "the Brookhaven Senior Center",
    "Oak Terrace Apartments", "the Juniper Street bus station",
)

CITIES: tuple[tuple[str, str, str], ...] = (
    ("Springfield", "IL", "627"), ("Columbus", "OH", "432"), ("Madison", "WI", "537"), ("Burlington", "VT", "054"),
    ("Bangor", "ME", "044"), ("Boise", "ID", "837"), ("Tulsa", "OK", "741"), ("Fresno", "CA", "937"),
    ("Knoxville", "TN", "379"), ("Lancaster", "PA", "176"), ("Savannah", "GA", "314"), ("Spokane", "WA", "992"),
    ("Duluth", "MN", "558"), ("Albany", "NY", "122"), ("Reno", "NV", "895"), ("Lexington", "KY", "405"),
    ("Eugene", "OR", "974"), ("Dayton", "OH", "454"), ("Providence", "RI", "029"), ("Pueblo", "CO", "810"),
)

STATES: dict[str, str] = {
    "IL": "Illinois", "OH": "Ohio", "WI": "Wisconsin", "VT": "Vermont", "ME": "Maine", "ID": "Idaho",
    "OK": "Oklahoma", "CA": "California", "TN": "Tennessee", "PA": "Pennsylvania", "GA": "Georgia",
    "WA": "Washington", "MN": "Minnesota", "NY": "New York", "NV": "Nevada", "KY": "Kentucky", "OR": "Oregon",
    "RI": "Rhode Island", "CO": "Colorado",
}

STREETS: tuple[str, ...] = (
    "Maple", "Oak", "Cedar", "Elm", "Willow", "Chestnut", "Highland", "Lakeview", "Sycamore", "Hawthorne",
    "Mill", "Church", "Prospect", "Orchard", "Ridge", "Spring", "Juniper", "Birch",
)

STREET_TYPES: tuple[str, ...] = ("St", "Ave", "Rd", "Dr", "Ln", "Blvd", "Ct", "Street", "Avenue", "Road")

PAYERS: tuple[str, ...] = (
    "BlueRiver Health Plan", "Keystone Mutual Health", "Evergreen Health Alliance", "Medicare", "Medicaid",
    "Granite State Care",
)

DEVICES: tuple[str, ...] = ("pacemaker", "implantable cardioverter-defibrillator", "insulin pump", "CPAP machine")

RELATIONS: tuple[tuple[str, str], ...] = (
    ("wife", "female"), ("husband", "male"), ("daughter", "female"), ("son", "male"), ("sister", "female"),
    ("brother", "male"), ("niece", "female"), ("partner", "female"),
)

MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)

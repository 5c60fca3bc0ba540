"""Names of Microsoft's first-party applications by app id, for sign-ins whose export carries
the id without a display name (some Log Analytics and Azure Monitor exports, hand-made JSON).

Ids and names as Microsoft lists them in "Verify first-party Microsoft applications in sign-in
reports" (learn.microsoft.com/troubleshoot/entra/entra-id/governance/
verify-first-party-apps-sign-in); the same ids are in every tenant. An id not listed is shown as
it is: the report never guesses a name.
"""

from __future__ import annotations

FIRST_PARTY: dict[str, str] = {
    "00000002-0000-0000-c000-000000000000": "Windows Azure Active Directory",
    "00000002-0000-0ff1-ce00-000000000000": "Office 365 Exchange Online",
    "00000003-0000-0000-c000-000000000000": "Microsoft Graph",
    "00000003-0000-0ff1-ce00-000000000000": "Office 365 SharePoint Online",
    "00000004-0000-0ff1-ce00-000000000000": "Skype for Business Online",
    "00000006-0000-0ff1-ce00-000000000000": "Microsoft Office 365 Portal",
    "00b41c95-dab0-4487-9791-b9d2c32c80f2": "Office 365 Management",
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
    "0ec893e0-5785-4de6-99da-4ed124e5296c": "Office UWP PWA",
    "14d82eec-204b-4c2f-b7e8-296a70dab67e": "Microsoft Graph Command Line Tools",
    "1950a258-227b-4e31-a9cf-717495945fc2": "Microsoft Azure PowerShell",
    "1b730954-1685-4b74-9bfd-dac224a7b894": "Azure Active Directory PowerShell",
    "1fec8e78-bce4-4aaf-ab1b-5451cc387264": "Microsoft Teams",
    "26a7ee05-5602-4d76-a7ba-eae8b7b67941": "Windows Search",
    "27922004-5251-4030-b22d-91ecd9a37ea4": "Outlook Mobile",
    "29d9ed98-a469-4536-ade2-f981bc1d605e": "Microsoft Authentication Broker",
    "4765445b-32c6-49b0-83e6-1d93765276ca": "OfficeHome",
    "4813382a-8fa7-425e-ab75-3b753aab3abb": "Microsoft Authenticator App",
    "797f4846-ba00-4fd7-ba43-dac1f8f63013": "Windows Azure Service Management API",
    "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7": "Office365 Shell WCSS-Client",
    "a0c73c16-a7e3-4564-9a95-2bdf47383716": "Microsoft Exchange Online Remote PowerShell",
    "ab9b8c07-8f02-4f72-87fa-80105867a763": "OneDrive SyncEngine",
    "c44b4083-3bb0-49c1-b47d-974e53cbdf3c": "Azure Portal",
    "d3590ed6-52b3-4102-aeff-aad2292ab01c": "Microsoft Office",
    "fb78d390-0c51-40cd-8e17-fdbfab77341b": "Microsoft Exchange REST API Based Powershell",
}


def app_name(app_id: str | None, display_name: str | None) -> str:
    """The display name the sign-in carries, else Microsoft's name for a first-party id, else
    the id itself."""
    if display_name and display_name != app_id:
        return display_name
    if app_id:
        return FIRST_PARTY.get(app_id.strip().lower(), app_id)
    return ""

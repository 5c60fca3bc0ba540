"""What followed a sign-in: directory audit activity, authentication methods and inbox rules.

`records` decodes Graph's directoryAudit, authenticationMethod and messageRule resources;
`activities` names the audit activities that matter after a takeover; `rules` says which inbox
rules hide or divert mail. The `persistence` detection (shared/detect/persistence.py) ties them
to a suspicious sign-in.
"""

"""Microsoft Entra ID sign-in review: detections, reports, evidence and remediation."""

__version__ = "0.1.0"

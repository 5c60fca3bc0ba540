"""The record for auditors: a manifest per run and an audit chain over manifests and remediations.

    ref = record_manifest(services, tables, run, verdicts)       # at finalize, once per run
    ref = append_remediation_audit(services, approval_id, run_id, audit)  # after a remediation
    result = verify_run(store, run_id)                           # `signin-review verify-evidence`
"""

from shared.audit.chain import AuditChain, ChainFields, ChainHead, ChainLink, EntryTaken
from shared.audit.manifest import Manifest, build_manifest, decode_manifest, encode_manifest
from shared.audit.trail import append_remediation_audit, record_manifest
from shared.audit.verify import Problem, Verification, verify_run

__all__ = [
    "AuditChain", "ChainFields", "ChainHead", "ChainLink", "EntryTaken", "Manifest", "Problem",
    "Verification", "append_remediation_audit", "build_manifest", "decode_manifest",
    "encode_manifest", "record_manifest", "verify_run",
]

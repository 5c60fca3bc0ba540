"""The sample tenant: a seeded generator of Entra ID sign-ins, directory and risk data.

`generate(users, seed)` builds a tenant in memory (users with homes, devices and networks, three
weeks of routine, a weekend with benign noise and planted attacks) together with its ground
truth; `write(tenant, directory)` stores it as Graph JSON. Same size and seed, same bytes.
"""

from local.tenant.files import read, write
from local.tenant.generator import Tenant, generate
from local.tenant.truth import ATTACKS, NOISE, Expectation

__all__ = ["ATTACKS", "NOISE", "Expectation", "Tenant", "generate", "read", "write"]

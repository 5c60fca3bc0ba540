"""Every template parses, main.bicep only wires modules, and the parameters file matches it."""

from __future__ import annotations

import re

import pytest

from tests.infra.templates import INFRA, bicep_files, module, parse, resources_of_type

EXPECTED_MODULES = {
    "app-settings",
    "entra",
    "function-app",
    "identities",
    "logic-app",
    "monitoring",
    "roles",
    "signin-source",
    "site-auth",
    "source-reader",
    "storage",
    "vault",
}


def test_every_module_file_is_present() -> None:
    assert {p.stem for p in (INFRA / "modules").glob("*.bicep")} == EXPECTED_MODULES


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_template_parses(path) -> None:
    template = parse(path)
    if path.stem == "signin-source":  # a check of the parameters: its output only
        assert set(template["outputs"]) == {"signinSource"}
        return
    assert template.get("resources") or template.get("modules")


def test_main_only_wires_modules() -> None:
    main = module("main")
    assert set(main["resources"]) == {"rg"}, "main.bicep declares only the resource group"
    paths = {m["detail"]["path"] for m in main["modules"].values()}
    assert paths == {f"modules/{name}.bicep" for name in EXPECTED_MODULES}
    for symbol, mod in main["modules"].items():
        assert mod["type"] == "local", f"{symbol}: local modules only, so offline checks see all"
        if mod["detail"]["path"] != "modules/source-reader.bicep":  # roles on an existing
            assert mod["config"]["scope"] == "rg"  # archive or workspace go in its own group


def test_names_come_from_abbreviations_and_token() -> None:
    main = module("main")
    names = [mod["config"]["params"].get("name") for mod in main["modules"].values()]
    for name in filter(None, names):
        assert re.fullmatch(r"\$\{abbrs\.\w+\}\$\{token\}", name), name
    assert "uniqueString" in (INFRA / "main.bicep").read_text()


def test_parameters_file_sets_only_declared_parameters() -> None:
    text = (INFRA / "main.bicepparam").read_text()
    assert re.search(r"^using '\./main\.bicep'$", text, re.MULTILINE)
    declared = set(module("main")["parameters"])
    assigned = set(re.findall(r"^param (\w+) =", text, re.MULTILINE))
    assert assigned <= declared, assigned - declared
    required = {n for n, p in module("main")["parameters"].items() if p.get("default") is None}
    assert required <= assigned, f"parameters without a default must be set: {required - assigned}"


def test_every_module_parameter_is_declared_by_the_module() -> None:
    main = module("main")
    for mod in main["modules"].values():
        path = INFRA / mod["detail"]["path"]
        declared = set(parse(path)["parameters"])
        passed = set(mod["config"]["params"])
        assert passed <= declared, f"{path.name}: unknown parameters {passed - declared}"
        required = {n for n, p in parse(path)["parameters"].items() if p.get("default") is None}
        assert required <= passed, f"{path.name}: missing parameters {required - passed}"


def test_graph_extension_is_configured() -> None:
    config = (INFRA / "bicepconfig.json").read_text()
    assert '"microsoftGraphV1"' in config
    assert re.search(
        r"^extension microsoftGraphV1$", (INFRA / "modules/entra.bicep").read_text(), re.MULTILINE
    )
    assert resources_of_type(module("entra"), "Microsoft.Graph/appRoleAssignedTo")


def test_deploy_notes_name_every_environment_value_the_parameters_read() -> None:
    notes = (INFRA.parent / "docs" / "deploy.md").read_text()
    read = re.findall(r"readEnvironmentVariable\('(\w+)'", (INFRA / "main.bicepparam").read_text())
    azd_sets = {"AZURE_ENV_NAME", "AZURE_LOCATION"}
    missing = [name for name in read if name not in azd_sets and name not in notes]
    assert not missing, f"docs/deploy.md does not say how to set {missing}"


def test_azd_deploys_the_function_app_the_template_tags() -> None:
    azure_yaml = (INFRA.parent / "azure.yaml").read_text()
    assert re.search(r"^  api:\n(    .*\n)*    host: function$", azure_yaml, re.MULTILINE)
    params = module("main")["modules"]["functionApp"]["config"]["params"]
    assert params["serviceName"] == "api" and "azd-service-name" not in str(params["tags"])


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_parameter_and_variable_is_used(path) -> None:
    template, source = parse(path), path.read_text()
    for name in [*template.get("parameters", {}), *template.get("variables", {})]:
        uses = len(re.findall(rf"(?<![\w.']){name}\b", source))
        assert uses >= 2, f"{path.name}: {name} is declared but never used"

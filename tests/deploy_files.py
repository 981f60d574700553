"""Reading the deployment files without Docker: the Dockerfile's instructions and the rules it must keep
(a hadolint subset), docker-compose.yml with its ``${VAR}`` interpolation, env files, MariaDB option files."""

from __future__ import annotations

import configparser
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Instruction:
    line: int
    keyword: str
    args: str
    stage: int


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped; ``stage`` counts FROMs."""
    result: list[Instruction] = []
    pending, start, stage = "", 0, -1
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        start = start or number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _sep, args = (pending + line).partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        result.append(Instruction(start, keyword, args.strip(), stage))
        pending, start = "", 0
    return result


SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY", re.IGNORECASE)
EXACT_TAG = re.compile(r"^[\w.-]+/?[\w.-]*:\d+\.\d+\.\d+[\w.-]*$")


def env_names(args: str) -> list[str]:
    """Names set by ENV or ARG: ``A=1 B=2``, ``A 1`` (legacy form) or ``NAME`` (ARG without default)."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return [words[0]]
    return [word.partition("=")[0] for word in words]


def dockerfile_violations(text: str) -> list[str]:
    """The rules of hadolint (ids in brackets) and of this project that need no Docker to check."""
    found: list[str] = []
    steps = instructions(text)
    stages = [i for i in steps if i.keyword == "FROM"]
    names = {i.args.split()[-1].lower() for i in stages if " as " in i.args.lower()}
    last_stage = len(stages) - 1
    for step in steps:
        where = f"line {step.line}"
        if step.keyword == "FROM":
            image = step.args.split()[0]
            if image.lower() not in names and "@sha256:" not in image and not EXACT_TAG.match(image):
                found.append(f"DL3006/DL3007 {where}: base image {image!r} is not pinned to an exact version or digest")
        if step.keyword in ("ENV", "ARG"):
            for name in env_names(step.args):
                if SECRET_NAME.search(name) and not name.endswith("_FILE"):
                    found.append(f"secret-in-env {where}: {step.keyword} {name} would bake a secret into the image")
        if step.keyword == "RUN":
            command = step.args
            if "apt-get install" in command:
                if "--no-install-recommends" not in command:
                    found.append(f"DL3015 {where}: apt-get install without --no-install-recommends")
                if "rm -rf /var/lib/apt/lists" not in command:
                    found.append(f"DL3009 {where}: apt lists not removed in the same RUN")
            if re.search(r"\bpip3? install\b", command) and "--no-cache-dir" not in command:
                found.append(f"DL3042 {where}: pip install without --no-cache-dir")
            if re.search(r"\bmigrate\b", command):
                found.append(f"migrate-at-build {where}: migrations are a deploy step, not a build step")
            if re.search(r"\bsudo\b", command):
                found.append(f"DL3004 {where}: sudo in RUN")
        if step.keyword == "ADD" and not re.search(r"https?://|\.tar", step.args):
            found.append(f"DL3020 {where}: ADD for local files; use COPY")
        if step.keyword in ("ENTRYPOINT", "CMD", "HEALTHCHECK"):
            json_part = step.args.split("CMD", 1)[-1].strip() if step.keyword == "HEALTHCHECK" else step.args
            if step.keyword == "HEALTHCHECK" and json_part.upper() == "NONE":
                continue
            if not json_part.startswith("["):
                found.append(f"DL3025 {where}: {step.keyword} in shell form; use the JSON (exec) form")
            if re.search(r"\bmigrate\b", json_part):
                found.append(f"migrate-on-start {where}: migrations must not run on every container start")
    final = [i for i in steps if i.stage == last_stage]
    users = [i.args.split(":")[0] for i in final if i.keyword == "USER"]
    if not users:
        found.append("DL3002 final stage: no USER; the container would run as root")
    elif users[-1] in ("root", "0"):
        found.append(f"DL3002 final stage: last USER is {users[-1]}")
    if not any(i.keyword == "HEALTHCHECK" for i in final):
        found.append("healthcheck final stage: no HEALTHCHECK")
    return found


def read_dockerfile() -> list[Instruction]:
    return instructions((ROOT / "Dockerfile").read_text())


# --- docker-compose ------------------------------------------------------------------------

VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_variables() -> dict[str, tuple[str | None, str | None]]:
    """Every ``${VAR}`` docker-compose.yml uses: name → (operator, default or message)."""
    text = (ROOT / "docker-compose.yml").read_text()
    return {m["name"]: (m["op"], m["arg"]) for m in VARIABLE.finditer(text)}


def interpolate(value: object, env: dict[str, str]) -> str:
    """Compose's interpolation of one value: ``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}``."""

    def one(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name, "")
        if current:
            return current
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return VARIABLE.sub(one, str(value))


def service_env(service: str, env: dict[str, str]) -> dict[str, str]:
    """A service's environment as the container would get it, given the .env values."""
    raw = compose()["services"][service].get("environment", {})
    return {key: interpolate(value, env) for key, value in raw.items()}


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.partition("=") for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


def mariadb_options(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(allow_no_value=True, inline_comment_prefixes=("#",))
    parser.read(path)
    return dict(parser["mariadbd"])

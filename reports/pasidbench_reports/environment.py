"""Environment records in short: one line per key for the summary and the
mail table, and every key's value as text for the HTML page."""

from __future__ import annotations

ENV_KEYS = ("kernel", "cpu", "topology", "governor", "mitigations",
            "pasid hw", "pasidbench")


def _flatten(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flatten(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def environment_value(environment: dict, key: str) -> str | None:
    if key not in environment:
        return None
    value = environment[key]
    if key == "kernel" and isinstance(value, dict):
        return value.get("release", _flatten(value))
    if key == "pasidbench" and isinstance(value, dict):
        return value.get("revision", _flatten(value))
    return _flatten(value)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _cpu_summary(cpu: dict) -> str:
    parts = [str(cpu.get("model", "?"))]
    ids = " ".join(f"{name} {cpu[key]}" for name, key in (
        ("family", "family"), ("model", "model_number"),
        ("stepping", "stepping")) if key in cpu)
    if ids:
        parts[0] += f" ({ids})"
    count = cpu.get("count", cpu.get("logical_cpus"))
    if count is not None:
        parts.append(f"{count} CPUs")
    microcode = str(cpu.get("microcode", ""))
    if microcode and not microcode.startswith("not "):
        parts.append(f"microcode {microcode}")
    if _dict(cpu.get("flags")).get("hypervisor"):
        parts.append("under a hypervisor")
    return ", ".join(parts)


def _mitigations_summary(environment: dict) -> str | None:
    """The kernel's mitigations= choice and which vulnerabilities the
    kernel reports as open; the full list is in the HTML page."""
    parts = []
    cmdline = str(_dict(environment.get("kernel")).get("cmdline", ""))
    chosen = [word for word in cmdline.split()
              if word.startswith("mitigations=")]
    parts.append(chosen[-1] if chosen else "mitigations= not set")
    vulnerabilities = _dict(_dict(environment.get("cpu")).get(
        "vulnerabilities"))
    if not vulnerabilities and not chosen:
        return None
    if vulnerabilities:
        states = [str(v) for v in vulnerabilities.values()]
        open_ = sorted(k for k, v in vulnerabilities.items()
                       if str(v).startswith("Vulnerable"))
        mitigated = sum(v.startswith("Mitigation") for v in states)
        parts.append("vulnerable: " + (", ".join(open_) or "none"))
        parts.append(f"{mitigated} mitigated")
    return "; ".join(parts)


def _pasid_hardware_summary(environment: dict) -> str | None:
    flags = _dict(_dict(environment.get("cpu")).get("flags"))
    dsa = _dict(environment.get("dsa"))
    sva = _dict(_dict(environment.get("iommu")).get("sva"))
    if not (flags or dsa or sva):
        return None
    def yes_no(value):
        return "?" if value is None else ("yes" if value else "no")
    return (f"ENQCMD {yes_no(flags.get('enqcmd'))}, DSA "
            f"{yes_no(dsa.get('present'))}, IOMMU PASID "
            f"{yes_no(sva.get('iommu_pasid_capable'))}")


def environment_summary(environment: dict, key: str) -> str | None:
    """One short line per ENV_KEYS key for the mail table, from the
    environment record as the host backend writes it (details nested under
    cpu/kernel/iommu/dsa); a top-level key of that name wins."""
    if key in environment and key not in ("cpu", "kernel"):
        return environment_value(environment, key)
    cpu = _dict(environment.get("cpu"))
    if key == "cpu" and cpu:
        return _cpu_summary(cpu)
    if key in ("topology", "governor") and key in cpu:
        return _flatten(cpu[key])
    if key == "mitigations":
        return _mitigations_summary(environment)
    if key == "pasid hw":
        return _pasid_hardware_summary(environment)
    return environment_value(environment, key)

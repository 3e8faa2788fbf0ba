"""Captures the renders tests/unit/test_images.py reads: the real charts (../shared/charts/magasin)
rendered with the collection's values (test_values.py's REGISTRY_CASES), pod templates and the
configurations that name spawned images only.

    .venv/bin/python tools/capture_renders.py
"""

import base64
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / ".collections"), str(ROOT / "tests" / "unit")]

import test_values as T  # noqa: E402
from ansible_collections.magasin.platform.plugins.module_utils import _images as I  # noqa: E402

OUT = ROOT / "tests" / "unit" / "fixtures" / "renders"


def keep(d):
    """The document as the image tests need it, or None."""
    if d.get("kind") == "Secret" and d["metadata"]["name"] == "hub":
        single = yaml.safe_load(base64.b64decode(d["data"]["values.yaml"]))["singleuser"]
        values = {"singleuser": {k: single[k] for k in ("image", "networkTools", "cloudMetadata")}}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hub"},
                "data": {"values.yaml": base64.b64encode(yaml.safe_dump(values).encode()).decode()}}
    if d.get("kind") == "ConfigMap" and "dask_gateway_config.py" in (d.get("data") or {}):
        lines = [line for line in d["data"]["dask_gateway_config.py"].splitlines() if line.startswith("_PROPERTIES = ")]
        d["data"] = {"dask_gateway_config.py": "\n".join(lines) + "\n"}
        return d
    return d if (I.pod_specs(d) is not None or d.get("kind") == "Tenant") else None


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for registry, tag in ((T.REGISTRY, "registry"), ("", "public")):
        for case in T.REGISTRY_CASES:
            for key, docs in T.rendered(case, registry=registry).items():
                if tag == "public" and key not in ("operator", "daskhub"):
                    continue
                kept = [k for k in (keep(d) for d in docs) if k]
                with open(OUT / ("%s-%s.yaml" % (key, tag)), "w") as f:
                    f.write("# helm template of the real %s chart with the collection's values (%s), pod templates only;\n"
                            "# written by tools/capture_renders.py.\n"
                            % (key, "image registry " + T.REGISTRY if registry else "no registry"))
                    yaml.safe_dump_all(kept, f, sort_keys=True)


if __name__ == "__main__":
    main()

# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the offline bundle (playbooks/bundle.yml) - its layout, its manifest, its
verification and the difference between two bundles.

A bundle is one directory::

    manifest.json                     what the bundle holds, and the sha256 and size of every other file
    charts/<name>-<version>.tgz       the chart archives, as helm package wrote them
    images/<upstream name>/<tag>/     each image as an OCI image layout (crane pull --format oci, by digest)
    files/<name>                      any other file the site needs (helm, kubectl, k3s, wheels)

The functions here are pure (data in, data out) but for ``hash_tree``, which reads the files; the module
(plugins/modules/offline_bundle.py) pulls, copies and writes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import posixpath
import re

from ._images import canonical, source_ref, split_image

FORMAT = "magasin.platform/offline-bundle/v1"
MANIFEST = "manifest.json"
PARTS = ("charts", "images", "files")
_BLOB = re.compile(r"(?:^|/)blobs/sha256/([0-9a-f]{64})$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]")


def layout_path(image):
    """Where an image's OCI layout lives in the bundle: ``docker.io/library/busybox:1.28`` ->
    ``images/docker.io/library/busybox/1.28`` (a registry's port colon becomes ``_``; an image named by
    digest only goes under ``sha256-<hex>``)."""
    repo, tag, digest = split_image(canonical(image))
    leaf = tag or digest.replace(":", "-")
    return "images/%s/%s" % (_UNSAFE.sub("_", repo), _UNSAFE.sub("_", leaf))


def bundle_plan(entries, source=""):
    """[{image, source, layout, paths}] of the images of one render without a site registry
    (M(chart_images) entries), once each, sorted: what the bundle pulls, from the upstream registries or
    from a registry holding them under their full names (``<source>/quay.io/minio/minio:TAG``)."""
    plan = {}
    for e in entries:
        if not e.get("image"):
            continue
        name = canonical(e["image"])
        item = plan.setdefault(name, {"image": name, "source": source_ref(name, source), "layout": layout_path(name),
                                      "paths": []})
        where = "%s: %s" % (e.get("release", ""), e.get("path", ""))
        if where not in item["paths"]:
            item["paths"].append(where)
    layouts = {}
    for item in plan.values():
        if layouts.setdefault(item["layout"], item["image"]) != item["image"]:
            raise ValueError("%s and %s would share the bundle directory %s" % (layouts[item["layout"]], item["image"], item["layout"]))
    return [plan[k] for k in sorted(plan)]


def layout_digest(index):
    """The digest of the one manifest an OCI layout's index.json lists (crane pull writes one per layout).
    Raises ValueError otherwise."""
    manifests = (index or {}).get("manifests") or []
    if len(manifests) != 1 or not str(manifests[0].get("digest", "")).startswith("sha256:"):
        raise ValueError("index.json lists %d manifests, not one" % len(manifests))
    return manifests[0]["digest"]


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_tree(root):
    """{relative path: {sha256, size}} of every file under ``root`` but the manifest (symbolic links
    included as files: a bundle holds none of its own)."""
    out = {}
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if rel == MANIFEST:
                continue
            out[rel] = {"sha256": sha256_file(full), "size": os.path.getsize(full)}
    return out


def manifest(images, charts, files, found):
    """The manifest of a bundle: its images ({image, tag, digest, source, layout, paths}), charts
    ({name, version, path}), other files ({name, path, source}), each with its sha256 and size where it
    is one file, and ``files``: every file of the bundle (``found``, from ``hash_tree``) with its sha256
    and size. Sorted, without a date, so the same pins make the same bytes."""
    def part(entry):
        return dict(entry, **found.get(entry["path"], {}))

    out_images = []
    for image in sorted(images, key=lambda i: i["image"]):
        repo, tag, dummy = split_image(image["image"])
        size = sum(v["size"] for k, v in found.items() if k.startswith(image["layout"] + "/"))
        out_images.append({"image": image["image"], "name": repo, "tag": tag, "digest": image["digest"],
                           "source": image["source"], "layout": image["layout"], "size": size,
                           "paths": sorted(image.get("paths") or [])})
    return {
        "format": FORMAT,
        "images": out_images,
        "charts": [part(c) for c in sorted(charts, key=lambda c: c["path"])],
        "extra_files": [part(f) for f in sorted(files, key=lambda f: f["path"])],
        "files": [dict(path=k, **found[k]) for k in sorted(found)],
    }


def verify(data, found):
    """Every way the bundle's files (``found``, from ``hash_tree``) differ from its manifest ``data``, one
    line each naming the file: changed (sha256 or size), missing, not in the manifest, and a blob whose
    content is not its name (caught even where the manifest was rewritten to match). Empty when it holds."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return ["%s is not a magasin offline bundle manifest (format %s)" % (MANIFEST, FORMAT)]
    problems = []
    listed = dict((f["path"], f) for f in data.get("files") or [])
    for path in sorted(set(listed) | set(found)):
        want, have = listed.get(path), found.get(path)
        if have is None:
            problems.append("%s: missing (the manifest lists it, sha256 %s)" % (path, want["sha256"]))
        elif want is None:
            problems.append("%s: not in the manifest (sha256 %s)" % (path, have["sha256"]))
        elif want["sha256"] != have["sha256"] or want["size"] != have["size"]:
            problems.append("%s: sha256 %s, %d bytes; the manifest says sha256 %s, %d bytes"
                            % (path, have["sha256"], have["size"], want["sha256"], want["size"]))
        blob = _BLOB.search(path)
        if have is not None and blob and blob.group(1) != have["sha256"]:
            problems.append("%s: its content has sha256 %s, not the digest it is named by" % (path, have["sha256"]))
    for entry in (data.get("charts") or []) + (data.get("extra_files") or []):
        if entry.get("path") not in listed:
            problems.append("%s: the manifest names it but does not list its sha256" % entry.get("path"))
    for image in data.get("images") or []:
        if "%s/index.json" % image.get("layout") not in listed:
            problems.append("%s/index.json: the layout of %s is not listed" % (image.get("layout"), image.get("image")))
    return problems


def planned_paths(images, charts, files):
    """Whether a bundle path belongs to the plan (what build keeps): a predicate over relative paths."""
    layouts = tuple(i["layout"] + "/" for i in images)
    singles = set(c["path"] for c in charts) | set(f["path"] for f in files)
    return lambda path: path in singles or path.startswith(layouts)


def chart_entry(path, name, version):
    return {"name": name, "version": version, "path": "charts/%s" % posixpath.basename(path), "origin": path}


def file_entry(item):
    """{name, path, source} of a file to bundle (``{path, name?}``: a local file, bundled under files/)."""
    name = item.get("name") or posixpath.basename(str(item.get("path") or ""))
    if not name or "/" in name or name in (".", ".."):
        raise ValueError("file %s needs a plain name (name:) to be bundled under files/" % item.get("path"))
    return {"name": name, "path": "files/%s" % name, "source": item["path"]}


def diff(old, new):
    """What changed from bundle manifest ``old`` to ``new``, for a change board: one line per image
    (by name and tag: digest), chart (by name: version and sha256) and other file added, removed or changed."""
    lines = []

    def keyed(data, part, key, value):
        return dict((key(e), value(e)) for e in (data or {}).get(part) or [])

    parts = (("image", "images", lambda e: e["image"], lambda e: e["digest"]),
             ("chart", "charts", lambda e: e["name"], lambda e: "%s (sha256 %s)" % (e["version"], e.get("sha256"))),
             ("file", "extra_files", lambda e: e["name"], lambda e: "sha256 %s" % e.get("sha256")))
    for label, part, key, value in parts:
        before, after = keyed(old, part, key, value), keyed(new, part, key, value)
        for k in sorted(set(before) | set(after)):
            if k not in after:
                lines.append("removed %s %s: %s" % (label, k, before[k]))
            elif k not in before:
                lines.append("added %s %s: %s" % (label, k, after[k]))
            elif before[k] != after[k]:
                lines.append("changed %s %s: %s -> %s" % (label, k, before[k], after[k]))
    return lines


def bundle_sources(plan, data, bundle_dir):
    """The mirror plan ([{source, dest, paths}], sources the upstream names) with each source read from
    the bundle instead: ``layout`` (its directory) and ``digest`` (what the manifest says). Raises
    ValueError naming the images the bundle does not hold."""
    held = dict((i["image"], i) for i in (data or {}).get("images") or [])
    out, missing = [], []
    for item in plan:
        image = held.get(canonical(item["source"]))
        if image is None:
            missing.append("%s (%s)" % (item["source"], ", ".join(item.get("paths") or [])))
            continue
        out.append(dict(item, layout=posixpath.join(bundle_dir.rstrip("/"), image["layout"]), digest=image["digest"]))
    if missing:
        raise ValueError("the bundle %s does not hold %s: build it again with these pins (playbooks/bundle.yml)"
                         % (bundle_dir, "; ".join(missing)))
    return out

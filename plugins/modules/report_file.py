#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: report_file
short_description: Write a run report (text) to a file on the controller
version_added: 0.4.0
description:
  - Writes O(content) to O(dest) on the controller, through a file beside it renamed over it, so that a reader
    never sees half a report; makes the directory when it is missing. It runs in the task's worker on the
    controller (an action plugin), with no module process.
  - Writing the report changes nothing in the realm, so the task never reports a change, and it writes in check
    mode too (the report then holds the run's predictions).
  - Used by the run report of C(playbooks/magasin.yml) (role C(_common), C(report.yml)).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
attributes:
  check_mode:
    support: full
    details: Writes the report in check mode too; it never reports a change.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Never reports a change.
options:
  dest:
    description: Path of the file (C(~) expanded).
    type: path
    required: true
  content:
    description: The text to write.
    type: str
    required: true
  mode:
    description: Permissions of the file, in octal.
    type: str
    default: "0644"
"""

EXAMPLES = r"""
- name: Run report
  magasin.platform.report_file:
    dest: "{{ magasin_report_path }}"
    content: "{{ report | to_nice_json }}\n"
"""

RETURN = r"""
dest:
  description: The absolute path written.
  returned: success
  type: str
  sample: /var/lib/magasin/reports/magasin.json
size:
  description: Bytes written.
  returned: success
  type: int
  sample: 5120
"""

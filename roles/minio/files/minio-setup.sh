#!/bin/sh
# Applies the declared content of a realm's MinIO: buckets (versioning, quota, object lock),
# policies and users with their policies, and removes what is named for removal. Run by the
# minio role's setup Job (mc image); its input is the environment the collection renders
# (plugins/module_utils/_minio.py, script_env). Idempotent: a second run changes nothing and
# prints no `changed:` line. Removals that would lose data are refused with a `kept:` line.
set -eu
# The Job's user has no writable home: mc keeps its configuration beside the temporary files.
export MC_CONFIG_DIR="${MC_CONFIG_DIR:-${TMPDIR:-/tmp}/.mc}"
m() { mc "$@" </dev/null; }
q() { mc "$@" </dev/null >/dev/null 2>&1; }
changed() { echo "changed: $*"; }
has() { case ",$1," in *",$2,"*) return 0 ;; esac; return 1; }

until q alias set magasin "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"; do
  echo "waiting for MinIO at $MINIO_ENDPOINT"; sleep 5
done

bucket_present() { # name versioning quota lock
  b="magasin/$1"
  if ! q stat "$b"; then
    if [ "$4" = on ]; then m mb --with-lock "$b" >/dev/null; else m mb "$b" >/dev/null; fi
    if [ "$4" = on ]; then changed "bucket $1 created with object lock"; else changed "bucket $1 created"; fi
  elif [ "$4" = on ] && ! q retention info --default "$b"; then
    echo "kept: bucket $1 has no object lock, and MinIO sets object lock only when a bucket is created" >&2
  elif [ "$4" = off ] && q retention info --default "$b"; then
    echo "kept: bucket $1 has object lock, which MinIO never removes" >&2
  fi
  info=$(m version info "$b" --json)
  case $info in *'"versioning":{"status":"Enabled"'*) now=on ;; *'"versioning":{"status":"Suspended"'*) now=off ;; *) now=none ;; esac
  if [ "$2" = on ] && [ "$now" != on ]; then
    m version enable "$b" >/dev/null; changed "bucket $1 versioning enabled"
  elif [ "$2" = off ] && [ "$now" = on ]; then
    m version suspend "$b" >/dev/null; changed "bucket $1 versioning suspended"
  fi
  if [ "$3" != - ]; then
    info=$(m quota info "$b" --json)
    case $info in *'"quota":'*) now=${info#*\"quota\":}; now=${now%%[,\}]*} ;; *) now=0 ;; esac
    if [ "$3" != 0 ] && [ "$now" != "$3" ]; then
      m quota set "$b" --size "$3" >/dev/null; changed "bucket $1 quota $3 bytes"
    elif [ "$3" = 0 ] && [ "$now" != 0 ]; then
      m quota clear "$b" >/dev/null; changed "bucket $1 quota cleared"
    fi
  fi
}

bucket_absent() { # name purge
  b="magasin/$1"
  q stat "$b" || return 0
  if q rb "$b"; then
    changed "bucket $1 removed"
  elif [ "$2" = yes ] && q rb --force "$b"; then
    changed "bucket $1 removed with its objects"
  else
    echo "kept: bucket $1 holds objects; purge: true in its minio_buckets entry removes them too" >&2
  fi
}

# Policies and users come in lines `index name state ...`; the documents and keys in
# MAGASIN_POLICY_<index>, MAGASIN_USER_<index>_ACCESS_KEY and _SECRET_KEY.
policy_present() { # index name
  eval "doc=\${MAGASIN_POLICY_$1}"
  if q admin policy info magasin "$2"; then fresh=no; else fresh=yes; fi
  printf '%s' "$doc" > "${TMPDIR:-/tmp}/magasin-policy.json"
  m admin policy create magasin "$2" "${TMPDIR:-/tmp}/magasin-policy.json" >/dev/null
  rm -f "${TMPDIR:-/tmp}/magasin-policy.json"
  [ "$fresh" = no ] || changed "policy $2 created"
}

user_present() { # index name policies
  eval "access=\${MAGASIN_USER_$1_ACCESS_KEY}; secret=\${MAGASIN_USER_$1_SECRET_KEY}"
  if ! q admin user info magasin "$access"; then
    m admin user add magasin "$access" "$secret" >/dev/null; changed "user $2 created"
  else
    # Sets the secret key anew (a rotation); MinIO keeps the user's policies.
    m admin user add magasin "$access" "$secret" >/dev/null
  fi
  info=$(m admin user info magasin "$access" --json)
  case $info in *'"policyName":"'*) now=${info#*\"policyName\":\"}; now=${now%%\"*} ;; *) now= ;; esac
  want=${3#-}
  old_ifs=$IFS; IFS=,
  for p in $want; do
    has "$now" "$p" || { m admin policy attach magasin "$p" --user "$access" >/dev/null; changed "user $2 policy $p attached"; }
  done
  for p in $now; do
    has "$want" "$p" || { m admin policy detach magasin "$p" --user "$access" >/dev/null; changed "user $2 policy $p detached"; }
  done
  IFS=$old_ifs
}

user_absent() { # index name
  eval "access=\${MAGASIN_USER_$1_ACCESS_KEY:-}"
  [ -n "$access" ] || return 0
  if q admin user info magasin "$access"; then
    m admin user rm magasin "$access" >/dev/null; changed "user $2 removed"
  fi
}

policy_absent() { # name
  q admin policy info magasin "$1" || return 0
  if q admin policy rm magasin "$1"; then
    changed "policy $1 removed"
  else
    echo "kept: policy $1 is attached to a user or group that the collection does not manage" >&2
  fi
}

# Creation first (buckets, then policies, then users), removal after (users, policies, buckets).
while read -r name state versioning quota lock purge; do
  if [ "$state" = present ]; then bucket_present "$name" "$versioning" "$quota" "$lock"; fi
done <<EOF
${MAGASIN_BUCKETS:-}
EOF
while read -r index name state; do
  if [ "$state" = present ]; then policy_present "$index" "$name"; fi
done <<EOF
${MAGASIN_POLICIES:-}
EOF
while read -r index name state policies; do
  if [ "$state" = present ]; then user_present "$index" "$name" "$policies"; fi
done <<EOF
${MAGASIN_USERS:-}
EOF
while read -r index name state policies; do
  if [ "$state" = absent ]; then user_absent "$index" "$name"; fi
done <<EOF
${MAGASIN_USERS:-}
EOF
while read -r index name state; do
  if [ "$state" = absent ]; then policy_absent "$name"; fi
done <<EOF
${MAGASIN_POLICIES:-}
EOF
while read -r name state versioning quota lock purge; do
  if [ "$state" = absent ]; then bucket_absent "$name" "$purge"; fi
done <<EOF
${MAGASIN_BUCKETS:-}
EOF
echo "MinIO content applied"

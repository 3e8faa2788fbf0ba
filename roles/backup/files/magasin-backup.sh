#!/bin/sh
# One step of a magasin backup or restore Job (plugins/module_utils/_backup.py builds the Jobs; each
# container runs this script with STEP set). Credentials come from the environment only: PGPASSWORD,
# and <SIDE>_URL/_ACCESS_KEY/_SECRET_KEY, which become mc's MC_HOST_<side> (never an argument).
#   pg-dump     (postgres image) pg_dump of $PGDATABASE to $DUMP, custom format, no owners or grants
#   store       (mc image) dumps and mirrored buckets to dst/$DST_BUCKET/$DST_PREFIX, then manifest.json
#   load        (mc image) verify every artifact of src/$SRC_BUCKET/$SRC_PREFIX against manifest.json,
#               then dumps to $WORK and each bucket of $BUCKET_MAP (old=new) mirrored into dst/new
#   pg-restore  (postgres image) pg_restore of $DUMP into $PGDATABASE (objects of the dump dropped first)
set -eu
STEP=${STEP:-${1:-}}
WORK=${WORK:-/work}
MANIFEST=manifest.json

log() { echo "magasin-backup $STEP: $*"; }
die() { echo "magasin-backup $STEP: $*" >&2; exit 1; }

# MC_HOST_<alias>=scheme://access:secret@host from <SIDE>_URL/_ACCESS_KEY/_SECRET_KEY.
mc_host() {
  eval "url=\${$1_URL}; access=\${$1_ACCESS_KEY}; secret=\${$1_SECRET_KEY}"
  scheme=${url%%://*}
  rest=${url#*://}
  export "MC_HOST_$2=$scheme://$access:$secret@$rest"
}

wait_s3() {
  tries=0
  until mc ls "$1" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || die "no answer from the S3 endpoint of $1"
    log "waiting for $1"; sleep 5
  done
}

wait_pg() {
  tries=0
  until pg_isready -q; do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || die "PostgreSQL at $PGHOST:$PGPORT does not answer"
    log "waiting for PostgreSQL at $PGHOST:$PGPORT"; sleep 5
  done
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c < "$1" | tr -d ' '; }
json_string() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

case "$STEP" in
pg-dump)
  wait_pg
  mkdir -p "$(dirname "$DUMP")"
  pg_dump --format=custom --no-owner --no-privileges --file="$DUMP.part"
  mv "$DUMP.part" "$DUMP"
  log "dumped $PGDATABASE at $PGHOST: $(size "$DUMP") bytes"
  ;;

pg-restore)
  wait_pg
  [ -f "$DUMP" ] || die "no dump at $DUMP"
  pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
    --dbname="$PGDATABASE" "$DUMP"
  log "restored $PGDATABASE at $PGHOST from $(size "$DUMP") bytes"
  ;;

store)
  mc_host DST dst
  wait_s3 dst
  mc mb --ignore-existing "dst/$DST_BUCKET" >/dev/null
  dst="dst/$DST_BUCKET/$DST_PREFIX"
  if [ -d "$WORK/postgresql" ]; then
    mc mirror --overwrite --remove "$WORK/postgresql" "$dst/postgresql"
  fi
  if [ -n "${BUCKETS:-}" ]; then
    mc_host SRC src
    wait_s3 src
    for bucket in $BUCKETS; do
      mc mirror --overwrite --remove "src/$bucket" "$dst/minio/$bucket"
    done
  fi
  # Every object under the backup (secrets.enc too, if the controller put it there first), hashed
  # as stored, one entry a line.
  entries="$WORK/entries"
  : > "$entries"
  mc find "$dst" --print '{}' | LC_ALL=C sort > "$WORK/objects"
  while IFS= read -r object; do
    path=${object#"$dst/"}
    [ "$path" != "$MANIFEST" ] || continue
    mc cat "$object" > "$WORK/object"
    printf '{"path": "%s", "size": %s, "sha256": "%s"}\n' "$(json_string "$path")" "$(size "$WORK/object")" \
      "$(sha "$WORK/object")" >> "$entries"
  done < "$WORK/objects"
  rm -f "$WORK/object"
  {
    printf '{"format": "magasin-backup/1", "realm": "%s", "id": "%s", "created": "%s",\n"artifacts": [\n' \
      "$REALM" "$BACKUP_ID" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    sed '$!s/$/,/' "$entries"
    printf ']}\n'
  } > "$WORK/$MANIFEST"
  mc cp "$WORK/$MANIFEST" "$dst/$MANIFEST" >/dev/null
  log "backup $BACKUP_ID of $REALM: $(wc -l < "$entries" | tr -d ' ') artifacts in $dst"
  ;;

load)
  mc_host SRC src
  wait_s3 src
  src="src/$SRC_BUCKET/$SRC_PREFIX"
  mc cat "$src/$MANIFEST" > "$WORK/$MANIFEST" || die "no manifest at $src/$MANIFEST"
  # sha256 size path, one artifact a line.
  sed -n 's/^{"path": "\(.*\)", "size": \([0-9]*\), "sha256": "\([0-9a-f]\{64\}\)"},\{0,1\}$/\3 \2 \1/p' \
    "$WORK/$MANIFEST" > "$WORK/expected"
  [ -s "$WORK/expected" ] || die "the manifest at $src/$MANIFEST names no artifact"
  bad=0
  while read -r digest bytes path; do
    case "$path" in postgresql/*) file="$WORK/$path"; mkdir -p "$(dirname "$file")" ;; *) file="$WORK/object" ;; esac
    if ! mc cat "$src/$path" > "$file" 2>/dev/null; then
      echo "missing: $path" >&2; bad=1; continue
    fi
    if [ "$(size "$file")" != "$bytes" ] || [ "$(sha "$file")" != "$digest" ]; then
      echo "differs from the manifest: $path" >&2; bad=1
    fi
  done < "$WORK/expected"
  rm -f "$WORK/object"
  [ "$bad" = 0 ] || die "backup $BACKUP_ID does not match its manifest: nothing restored"
  log "backup $BACKUP_ID matches its manifest ($(wc -l < "$WORK/expected" | tr -d ' ') artifacts)"
  for dump in ${DUMPS:-}; do
    [ -f "$WORK/postgresql/$dump.dump" ] || die "the backup has no dump of $dump"
  done
  if [ -n "${BUCKET_MAP:-}" ]; then
    mc_host DST dst
    wait_s3 dst
    for pair in $BUCKET_MAP; do
      from=${pair%%=*}
      to=${pair#*=}
      if ! grep -q " minio/$from/" "$WORK/expected"; then
        log "the backup holds no object of bucket $from: $to left as it is"; continue
      fi
      mc mb --ignore-existing "dst/$to" >/dev/null
      mc mirror --overwrite --remove "$src/minio/$from" "dst/$to"
    done
  fi
  ;;

*)
  die "unknown step '$STEP' (pg-dump, pg-restore, store, load)"
  ;;
esac

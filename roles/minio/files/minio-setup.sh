#!/bin/sh
# Creates the bucket, the read and readwrite policies and the per-consumer users of a
# realm in its MinIO. Run by the minio role's setup Job (mc image); idempotent.
set -eu
until mc alias set magasin "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  echo "waiting for MinIO at $MINIO_ENDPOINT"; sleep 5
done
mc mb --ignore-existing "magasin/$BUCKET"
b="arn:aws:s3:::$BUCKET"
list='{"Effect":"Allow","Action":["s3:GetBucketLocation","s3:ListBucket"],"Resource":["'"$b"'"]}'
get='{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["'"$b"'/*"]}'
all='{"Effect":"Allow","Action":["s3:*"],"Resource":["'"$b"'","'"$b"'/*"]}'
printf '{"Version":"2012-10-17","Statement":[%s,%s]}' "$list" "$get" > /tmp/read.json
printf '{"Version":"2012-10-17","Statement":[%s]}' "$all" > /tmp/readwrite.json
mc admin policy create magasin "magasin-read-$BUCKET" /tmp/read.json
mc admin policy create magasin "magasin-readwrite-$BUCKET" /tmp/readwrite.json
for user in $USERS; do
  eval "access=\$${user}_ACCESS_KEY; secret=\$${user}_SECRET_KEY; policy=\$${user}_POLICY"
  mc admin user add magasin "$access" "$secret"
  mc admin policy attach magasin "magasin-$policy-$BUCKET" --user "$access" || echo "policy already attached to $user"
done

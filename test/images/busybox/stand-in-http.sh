#!/bin/sh
# One HTTP exchange of the stand-in (run by `nc -ll -e` per connection): read the request,
# answer 200 (or 503 under STANDIN_HEALTH=fail) with a small JSON body.
read -r _request
while read -r header; do
  header=$(printf %s "$header" | tr -d '\r')
  [ -z "$header" ] && break
done
if [ "${STANDIN_HEALTH:-ok}" = fail ]; then
  status='503 Service Unavailable'; body='{"status":"unavailable"}'
else
  status='200 OK'; body='{"status":"ok"}'
fi
printf 'HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$status" "${#body}" "$body"

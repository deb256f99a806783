#!/usr/bin/env bash
# Mobile SDK: the jars the Kotlin tests and the JVM example need, from Maven Central (the Kotlin
# compiler, the Kotlin stdlib and JNA; the list is sdk-mobile/jvm-tools/pom.xml). Idempotent: a second
# run finds them and does nothing. Android and iOS SDKs are not installed here (see docs/mobile.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../env.sh
. "$here/env.sh"
# shellcheck source=../lib/apt.sh
. "$here/lib/apt.sh"

command -v java >/dev/null 2>&1 || apt_install default-jdk-headless
command -v mvn >/dev/null 2>&1 || apt_install maven

pom="$here/../sdk-mobile/jvm-tools/pom.xml"
dest="$FOOTFALL_CACHE/mobile-jvm"
stamp="$(sha256sum "$pom" | cut -c1-16)"
if [ -f "$dest/.installed" ] && [ "$(cat "$dest/.installed")" = "$stamp" ]; then
  echo "mobile JVM jars already in $dest"
  exit 0
fi
rm -rf "$dest/compiler" "$dest/runtime"
for profile in compiler runtime; do
  mvn -q -B -f "$pom" -P"$profile" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$dest/$profile" -DincludeScope=runtime
done
echo "$stamp" >"$dest/.installed"
echo "mobile JVM jars installed in $dest"

#!/usr/bin/env bash
# The service unit: `systemd-analyze verify` passes and
# `systemd-analyze security --offline=yes` rates it 0.9 or lower (SAFE).
# The unit is checked as `make install` writes it, pointing at this build.
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || die "systemd-analyze missing"

unit=$T/frameshield.service
sed "s|@PREFIX@|$REPO|g" "$REPO/systemd/frameshield.service" > "$unit"
check "systemd-analyze verify" systemd-analyze verify "$unit"
report=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
say "exposure score: ${score:-none}"
check "exposure score ${score:-none} <= 0.9" ge 0.9 "${score:-99}"
expect_match "rated SAFE" "$(printf '%s\n' "$report" | grep 'Overall')" 'SAFE'
for key in 'Type=notify' 'WatchdogSec=' 'PrivateNetwork=yes' \
    'RestrictAddressFamilies=AF_UNIX' 'CapabilityBoundingSet=$' \
    'IPAddressDeny=any' 'ProtectSystem=strict' 'PrivateTmp=yes'; do
    check "unit sets $key" grep -q "^$key" "$unit"
done
finish

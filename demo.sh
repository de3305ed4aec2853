#!/usr/bin/env bash
# A walk through the single-node command line: builds rollmesh and runs a cell node on the embedded demo
# tree, in a temporary directory that is removed afterwards. Set ROLLMESH_LANG=en for English output.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --quiet -p rollmesh
R="$PWD/target/release/rollmesh"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "init a cell node and a second node (the secretary's laptop) of the same cell"
$R init --unit hn.d01.w01.c01 --tree config/org-demo.toml --data "$W/cell"
$R init --unit hn.d01.w01.c01 --tree config/org-demo.toml --data "$W/laptop"
$R trust add "$($R id --data "$W/laptop")" --data "$W/cell" --note "laptop"
$R trust add "$($R id --data "$W/cell")" --data "$W/laptop" --note "cell office"

step "add a member and import a CSV with one bad row"
$R member add --data "$W/cell" --name "Nguyễn Văn An" --dob 1990-05-01 --sex nam --phone 0912345678
cat > "$W/members.csv" <<'CSV'
Họ và tên,Ngày sinh,Giới tính,Lĩnh vực,Điện thoại
Trần Thị Bình,02/03/1985,nữ,Giáo viên,0987654321
Lê Văn Cường,1979-13-01,nam,Công nhân,
Phạm Minh Châu,1992-09-02,nữ,Giảng viên,
CSV
$R member import --csv "$W/members.csv" --data "$W/cell" || echo "(exit $? : one row rejected, as expected)"
$R member list --data "$W/cell"
$R member search --data "$W/cell" "tran thi binh"

step "both nodes edit the same member offline, then exchange bundles"
ID=$($R member search --data "$W/cell" "nguyen van an" --json | sed -n 's/.*"id": "\([a-z2-7]*\)".*/\1/p' | head -1)
$R bundle export --data "$W/cell" --out "$W/c1.bundle"
$R bundle import "$W/c1.bundle" --data "$W/laptop"
$R member edit "$ID" --data "$W/cell" --phone 0911111111 --residence "Số 1 Hàng Bài"
$R member edit "$ID" --data "$W/laptop" --workplace "UBND phường Điện Biên" --residence "Ngõ 5 Láng Hạ"
$R bundle export --data "$W/cell" --out "$W/c2.bundle"
$R bundle export --data "$W/laptop" --out "$W/l1.bundle"
$R bundle import "$W/c2.bundle" --data "$W/laptop"
$R bundle import "$W/l1.bundle" --data "$W/cell"
$R member show "$ID" --data "$W/cell"
$R member history "$ID" --data "$W/cell"

step "a bundle altered in transit is refused; the store stays clean"
python3 - "$W/c2.bundle" "$W/bad.bundle" <<'PY' 2>/dev/null || cp "$W/c2.bundle" "$W/bad.bundle"
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[9 + 5 + 60] ^= 1; open(sys.argv[2], 'wb').write(b)
PY
$R init --unit hn.d01.w01.c01 --data "$W/other" >/dev/null
$R trust add "$($R id --data "$W/cell")" --data "$W/other" >/dev/null
$R bundle import "$W/bad.bundle" --data "$W/other" || echo "(exit $?: refused, as expected)"
$R quarantine list --data "$W/other"
$R verify --data "$W/other"

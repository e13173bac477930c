#!/usr/bin/env bash
# test_compose.sh - the docker deployment as far as it can be checked without a Docker engine:
# the compose file, the image's build steps (run here), its runtime libraries and its config
set -euo pipefail

SOURCE_DIR=${ALERTQ_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_DIR=${ALERTQ_BUILD_DIR:?set ALERTQ_BUILD_DIR to the build directory}
COMPOSE_FILE=$SOURCE_DIR/docker/docker-compose.yml
DOCKERFILE=$SOURCE_DIR/docker/Dockerfile
PY=/usr/bin/python3

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/*.err; do
		[ -s "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }
	done
	exit 1
}

pass() {
	echo "ok: $*"
}

# docker-compose with nothing from the caller's environment, so the defaults
# of the compose file are what is checked; extra NAME=VALUE arguments first.
compose() {
	local vars=()
	while [ $# -gt 0 ] && [[ $1 == *=* ]]; do
		vars+=("$1")
		shift
	done
	env -i PATH="$PATH" HOME="$WORK" "${vars[@]}" docker-compose -f "$COMPOSE_FILE" "$@"
}

command -v docker-compose >/dev/null || fail "docker-compose is not installed (scripts/deps.sh installs it)"

# --- the compose file is valid ------------------------------------------------------

rc=0
compose config -q >"$WORK/config-q.out" 2>"$WORK/config-q.err" || rc=$?
[ "$rc" -eq 0 ] || fail "docker-compose config -q exited $rc"
[ ! -s "$WORK/config-q.err" ] || fail "docker-compose config -q warned"
pass "docker-compose config -q exits 0 without warnings"

compose config >"$WORK/config.yaml" 2>"$WORK/config.err" || fail "docker-compose config"
compose SLACK_WEBHOOK_URL=https://hooks.example/T0/B0/x POSTGRES_PASSWORD=s3cret \
	ALERTQ_STATE_DSN=postgresql://alertq:s3cret@db.example/alertq \
	ALERTQ_TOKEN_OPS=tok-ops-1 ALERTQ_TOKEN_GRAFANA=tok-grafana-2 ALERTQ_TOKEN_PROM=tok-prom-3 ALERTQ_WEB_PORT=19094 \
	config >"$WORK/config-env.yaml" 2>"$WORK/config-env.err" || fail "docker-compose config with settings"
# .env.example copied as it is: every variable empty, the defaults in force
compose --env-file "$SOURCE_DIR/docker/.env.example" config >"$WORK/config-example.yaml" 2>"$WORK/config-example.err" ||
	fail "docker-compose config with docker/.env.example as .env"

# --- what the rendered configuration says ----------------------------------------------

"$PY" - "$WORK/config.yaml" "$WORK/config-env.yaml" "$DOCKERFILE" "$WORK/config-example.yaml" \
	"$COMPOSE_FILE" "$SOURCE_DIR/docker/alertq.yaml" "$SOURCE_DIR/docker/.env.example" <<'EOF' || fail "the rendered compose configuration"
import os, re, sys, yaml

config = yaml.safe_load(open(sys.argv[1]))
with_env = yaml.safe_load(open(sys.argv[2]))
dockerfile = open(sys.argv[3]).read()
from_example = yaml.safe_load(open(sys.argv[4]))
compose_text = open(sys.argv[5]).read()
alertq_yaml = yaml.safe_load(open(sys.argv[6]))
env_example = open(sys.argv[7]).read()
services = config["services"]
problems = []

def check(ok, what):
    if not ok:
        problems.append(what)

def command_text(svc):
    parts = []
    for key in ("entrypoint", "command"):
        v = svc.get(key) or []
        parts += v if isinstance(v, list) else [v]
    return " ".join(parts)

def depends(svc, name):
    d = svc.get("depends_on") or {}
    return d.get(name, {}).get("condition") if isinstance(d, dict) else None

for name in ("kafka", "kafka-init", "postgres", "mailpit", "producer", "worker", "web"):
    check(name in services, "no service '%s'" % name)
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
kafka, init, pg, mail = services["kafka"], services["kafka-init"], services["postgres"], services["mailpit"]
producer, worker, web = services["producer"], services["worker"], services["web"]

# Kafka: a single KRaft node advertised on the compose network
env = kafka.get("environment", {})
check(kafka.get("image", "").startswith("apache/kafka:"), "kafka is not the apache/kafka image")
check(set(str(env.get("KAFKA_PROCESS_ROLES", "")).split(",")) == {"broker", "controller"},
      "kafka is not broker and controller in one (KRaft)")
check("CLUSTER_ID" in env and "KAFKA_CONTROLLER_QUORUM_VOTERS" in env, "kafka lacks CLUSTER_ID or quorum voters")
check(env.get("KAFKA_ADVERTISED_LISTENERS") == "PLAINTEXT://kafka:9092",
      "kafka advertises %r, not kafka:9092 on the compose network" % env.get("KAFKA_ADVERTISED_LISTENERS"))
check(str(env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")).lower() == "false", "kafka creates topics on first use")

# the topics: made once, 12 partitions, before anything uses them
text = command_text(init)
check(init.get("image") == kafka.get("image"), "kafka-init does not use the kafka image")
check("kafka-topics.sh" in text and "--create" in text, "kafka-init does not run kafka-topics.sh --create")
check(re.search(r"--partitions\s+12\b", text) is not None, "kafka-init does not ask for 12 partitions")
check(re.search(r"--replication-factor\s+1\b", text) is not None, "kafka-init does not set replication factor 1")
for topic in ("alertq.checks", "alertq.checks.dlq"):
    check(re.search(r"(^|\s)%s(\s|;|$)" % re.escape(topic), text) is not None, "kafka-init does not create " + topic)
check(init.get("restart", "no") == "no", "kafka-init restarts")
check(depends(init, "kafka") == "service_healthy", "kafka-init does not wait for a healthy kafka")

# health checks
for name, svc, tool in (("kafka", kafka, r"kafka-broker-api-versions\.sh|kafka-topics\.sh"),
                        ("postgres", pg, r"pg_isready"), ("mailpit", mail, r".")):
    hc = svc.get("healthcheck")
    check(hc and not hc.get("disable") and hc.get("test"), "no health check for " + name)
    if hc and hc.get("test"):
        t = hc["test"] if isinstance(hc["test"], str) else " ".join(hc["test"])
        check(re.search(tool, t) is not None, "%s's health check does not use %s" % (name, tool))

# PostgreSQL: alertq's database, a volume, the sample application database
penv = pg.get("environment", {})
check(pg.get("image") == "postgres:15", "postgres is not postgres:15")
check(all(penv.get(k) for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")), "POSTGRES_USER/PASSWORD/DB unset")
check(any(v.endswith(":/var/lib/postgresql/data:rw") and not v.startswith("/") for v in pg.get("volumes", [])),
      "postgres data is not on a named volume")
check(any(":/docker-entrypoint-initdb.d" in v for v in pg.get("volumes", [])), "no init scripts for postgres")

# every bind mount names a file or directory of the tree
for name, svc in services.items():
    for v in svc.get("volumes", []):
        source = v.split(":")[0]
        if source.startswith("/"):
            check(os.path.exists(source), "%s mounts %s, which does not exist" % (name, source))

# the programs: the configuration mounted where the image reads it, settings from the environment
for name, svc in (("producer", producer), ("worker", worker)):
    e = svc.get("environment", {})
    check(any(v.endswith(":/etc/alertq/alertq.yaml:ro") and v.split(":")[0].endswith("/docker/alertq.yaml")
              for v in svc.get("volumes", [])), "%s does not mount docker/alertq.yaml" % name)
    check(e.get("ALERTQ_KAFKA_BROKERS") == "kafka:9092", "%s's ALERTQ_KAFKA_BROKERS is %r" % (name, e.get("ALERTQ_KAFKA_BROKERS")))
    check(depends(svc, "kafka-init") == "service_completed_successfully",
          "%s does not wait for kafka-init to complete" % name)
    check(depends(svc, "postgres") == "service_healthy", "%s does not wait for a healthy postgres" % name)
    check("alertq-" + name in command_text(svc), "%s does not run alertq-%s" % (name, name))
we = worker.get("environment", {})
check(str(we.get("ALERTQ_STATE_DSN", "")).startswith("postgresql://") and "@postgres:5432/" in we.get("ALERTQ_STATE_DSN", ""),
      "the worker's ALERTQ_STATE_DSN does not point at postgres")
check(we.get("SMTP_URL") == "smtp://mailpit:1025", "the worker's SMTP_URL is %r, not mailpit:1025" % we.get("SMTP_URL"))
check("IACT_DSN" in producer.get("environment", {}), "the producer has no IACT_DSN")
# secrets stay with the service that uses them
for secret in ("SLACK_WEBHOOK_URL", "SMTP_PASSWORD", "ALERTQ_STATE_DSN"):
    check(secret not in producer.get("environment", {}), "the producer gets %s, which it does not use" % secret)
# settings from the environment win over the defaults
ew = with_env["services"]["worker"]["environment"]
check(ew.get("SLACK_WEBHOOK_URL") == "https://hooks.example/T0/B0/x", "SLACK_WEBHOOK_URL from the environment is not passed on")
check(ew.get("ALERTQ_STATE_DSN") == "postgresql://alertq:s3cret@db.example/alertq", "ALERTQ_STATE_DSN from the environment is not used")
check(with_env["services"]["postgres"]["environment"].get("POSTGRES_PASSWORD") == "s3cret", "POSTGRES_PASSWORD from the environment is not used")

# alertq serve: one published port, on the host's loopback only
def published(svc):
    """(host_ip, host_port, container_port) of each published port, short or long syntax"""
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip", ""), str(p.get("published", "")), str(p.get("target", ""))))
        else:
            parts = str(p).split("/")[0].split(":")
            parts = [""] * (3 - len(parts)) + parts
            out.append(tuple(parts))
    return out

text = command_text(web)
check(re.search(r"(^|\s)alertq\s.*\sserve(\s|$)", text) is not None, "web does not run alertq serve: %r" % text)
m = re.search(r"--listen\s+(\S+)", text)
check(m is not None and m.group(1) == "0.0.0.0:9094", "web does not listen on 0.0.0.0:9094 in its container: %r" % text)
for cfg, label in ((config, "by default"), (with_env, "with ALERTQ_WEB_PORT"), (from_example, "with .env.example")):
    ports = published(cfg["services"]["web"])
    check(len(ports) == 1, "web publishes %d ports %s, expected one" % (len(ports), label))
    for host_ip, host_port, target in ports:
        check(host_ip == "127.0.0.1", "web's port %s is published on %r %s, not 127.0.0.1 only" % (target, host_ip or "every address", label))
        check(target == "9094", "web publishes container port %r, not 9094" % target)
check(published(with_env["services"]["web"])[:1] == [("127.0.0.1", "19094", "9094")], "ALERTQ_WEB_PORT does not move web's host port")
check(published(web)[:1] == [("127.0.0.1", "9094", "9094")], "web's host port is not 9094 by default")
for name, svc in services.items():
    if name != "web":
        for host_ip, _, target in published(svc):
            check(host_ip == "127.0.0.1", "%s publishes %s on %r, not 127.0.0.1" % (name, target, host_ip or "every address"))
# the published port is one container's: no replicas beyond one
check((web.get("deploy") or {}).get("replicas", 1) == 1, "web has replicas but publishes one host port")
hc = web.get("healthcheck") or {}
t = hc.get("test") or ""
t = t if isinstance(t, str) else " ".join(t)
check(not hc.get("disable") and "/-/healthy" in t and "9094" in t, "web's health check does not ask /-/healthy on 9094: %r" % t)
check(web.get("restart") == worker.get("restart") == "unless-stopped", "web's restart policy is %r" % web.get("restart"))
check(depends(web, "postgres") == "service_healthy", "web does not wait for a healthy postgres")
check(depends(web, "kafka") == "service_healthy" or depends(web, "kafka-init") == "service_completed_successfully",
      "web does not wait for kafka")
check(any(v.endswith(":/etc/alertq/alertq.yaml:ro") and v.split(":")[0].endswith("/docker/alertq.yaml")
          for v in web.get("volumes", [])), "web does not mount docker/alertq.yaml")
wenv = web.get("environment", {})
check(wenv.get("ALERTQ_KAFKA_BROKERS") == "kafka:9092", "web's ALERTQ_KAFKA_BROKERS is %r" % wenv.get("ALERTQ_KAFKA_BROKERS"))
check("@postgres:5432/" in str(wenv.get("ALERTQ_STATE_DSN", "")), "web's ALERTQ_STATE_DSN does not point at postgres")

# the tokens: named in docker/alertq.yaml by variable, valued only by the environment
tokens = ((alertq_yaml.get("http") or {}).get("tokens")) or []
want = {"ops": ("operate", "ALERTQ_TOKEN_OPS"), "grafana": ("read", "ALERTQ_TOKEN_GRAFANA"),
        "prom": ("ingest", "ALERTQ_TOKEN_PROM")}
got = {t.get("name"): (t.get("role"), t.get("token_env")) for t in tokens}
check(got == want, "docker/alertq.yaml's http.tokens are %r, expected %r" % (got, want))
for t in tokens:
    check(set(t) == {"name", "role", "token_env"}, "docker/alertq.yaml's token %r has keys %r (a literal token?)" % (t.get("name"), sorted(t)))
for _, var in want.values():
    check(wenv.get(var) == "", "web's %s is %r without an environment (a literal default?)" % (var, wenv.get(var)))
    check(from_example["services"]["web"]["environment"].get(var) == "", "web's %s is set by .env.example" % var)
    check(re.search(r"^%s=[ \t]*$" % var, env_example, re.M) is not None, ".env.example does not leave %s empty" % var)
    # the compose file names the variable only as ${VAR:-} or ${VAR}
    for m in re.finditer(r"\$\{%s([^}]*)\}" % var, compose_text):
        check(m.group(1) in ("", ":-", "-"), "docker-compose.yml gives %s the default %r" % (var, m.group(1)))
    check(re.search(r"^\s*%s:\s*\$\{%s(:-)?\}\s*$" % (var, var), compose_text, re.M) is not None,
          "docker-compose.yml does not pass %s from the environment" % var)
    for name, svc in services.items():
        if name != "web":
            check(var not in (svc.get("environment") or {}), "%s gets %s, which only web uses" % (name, var))
ewe = with_env["services"]["web"]["environment"]
check((ewe.get("ALERTQ_TOKEN_OPS"), ewe.get("ALERTQ_TOKEN_GRAFANA"), ewe.get("ALERTQ_TOKEN_PROM")) ==
      ("tok-ops-1", "tok-grafana-2", "tok-prom-3"), "the tokens from the environment are not passed to web")
# every variable the compose file reads is in .env.example
for var in sorted(set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", compose_text))):
    check(re.search(r"^%s=" % var, env_example, re.M) is not None, ".env.example lacks %s" % var)

# workers scale: replicas, and nothing that ties a service to one container
replicas = (worker.get("deploy") or {}).get("replicas")
check(isinstance(replicas, int) and replicas >= 2, "worker has deploy.replicas %r, expected 2 or more" % replicas)
check("container_name" not in worker, "worker has a container_name (cannot scale)")
check(not worker.get("ports"), "worker publishes ports (cannot scale)")

# where the image is built here it runs as a user other than root
last_user = None
for line in dockerfile.splitlines():
    m = re.match(r"\s*(FROM|USER)\s+(\S+)", line, re.I)
    if m:
        last_user = None if m.group(1).upper() == "FROM" else m.group(2).split(":")[0]
check(last_user not in (None, "root", "0"), "the image's last stage runs as %s" % (last_user or "root"))
built = [n for n, s in services.items() if "build" in s]
check(set(built) >= {"producer", "worker", "web"}, "producer, worker and web are not built from the Dockerfile")
for name in built:
    svc = services[name]
    check(svc["build"].get("dockerfile") == "docker/Dockerfile", "%s is built from %r" % (name, svc["build"].get("dockerfile")))
    check(str(svc.get("user", "alertq")).split(":")[0] not in ("root", "0"), "%s runs as root" % name)

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
EOF
pass "services, KRaft settings, 12-partition topics, health checks, dependencies, replicas, non-root image"
pass "web: alertq serve on 127.0.0.1 only, one replica, /-/healthy checked, tokens only from the environment"

# --- the mounted configuration loads with the compose environment -------------------

# The tokens set as .env would set them. An alertq without `serve` does not
# know the http: section yet: then the rest of the file is checked without it.
config_to_check=$SOURCE_DIR/docker/alertq.yaml
if ! "$BUILD_DIR/alertq" --help 2>&1 | grep -Eq '^[[:space:]]+serve([[:space:]]|$)'; then
	# the lines from `http:` to the next top-level key (text, not YAML: a dump would turn `off` into false)
	awk '/^[^[:space:]#]/ { skip = ($0 ~ /^http:/) } !skip' "$config_to_check" >"$WORK/alertq-no-http.yaml"
	grep -q '^http:' "$config_to_check" && ! grep -q '^http:\|token_env' "$WORK/alertq-no-http.yaml" ||
		fail "docker/alertq.yaml has no http section, or it could not be cut out"
	config_to_check=$WORK/alertq-no-http.yaml
	echo "skip: this alertq has no serve command; docker/alertq.yaml checked without its http section"
fi
ALERTQ_TOKEN_OPS=tok-ops-1 ALERTQ_TOKEN_GRAFANA=tok-grafana-2 ALERTQ_TOKEN_PROM=tok-prom-3 \
	"$BUILD_DIR/alertq" -c "$config_to_check" check-config >"$WORK/check-config.out" 2>"$WORK/check-config.err" ||
	fail "alertq check-config docker/alertq.yaml"
grep -q "email" "$SOURCE_DIR/docker/alertq.yaml" || fail "docker/alertq.yaml has no email channel"
grep -Eq 'starttls:[[:space:]]*off' "$SOURCE_DIR/docker/alertq.yaml" || fail "docker/alertq.yaml's email does not turn STARTTLS off for mailpit"
grep -Eq 'dsn_env:[[:space:]]*IACT_DSN' "$SOURCE_DIR/docker/alertq.yaml" || fail "docker/alertq.yaml's source does not read IACT_DSN"
for check in dora.days_since_last_deploy dora.change_failure_rate system.session_rows; do
	grep -q "name: $check" "$SOURCE_DIR/docker/alertq.yaml" || fail "docker/alertq.yaml lacks the seed's check $check"
done
pass "docker/alertq.yaml: $(cat "$WORK/check-config.out")"

# --- the image builds with the steps of scripts/build.sh ---------------------------------

# The build stage's cmake commands, one a line, and its package list.
"$PY" - "$DOCKERFILE" "$SOURCE_DIR/scripts/build.sh" "$SOURCE_DIR/scripts/deps.sh" "$WORK" <<'EOF' || fail "the Dockerfile's build steps differ from scripts/build.sh"
import re, sys

dockerfile, build_sh, deps_sh, work = sys.argv[1:]
text = open(dockerfile).read().replace("\\\n", " ")
stages = re.split(r"(?im)^FROM\s+", text)[1:]
problems = []
if len(stages) < 2 or not all(s.startswith("debian:bookworm-slim") for s in stages):
    problems.append("the Dockerfile is not multi-stage on debian:bookworm-slim")
build_stage, runtime_stage = stages[0], stages[-1]

def runs(stage):
    cmds = []
    for m in re.finditer(r"(?im)^RUN\s+(.*)$", stage):
        cmds += [c.strip() for c in m.group(1).split("&&")]
    return cmds

def installed(stage):
    pkgs = []
    for c in runs(stage):
        m = re.search(r"apt-get install\s+(.*?)(;|$)", c)
        if m:
            pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs

docker_cmake = [c for c in runs(build_stage) if c.startswith("cmake ")]
script_cmake = []
for line in open(build_sh):
    line = line.strip()
    if line.startswith("cmake "):
        line = line.replace('"$top"', "/src").replace('"$dir"', "/build").replace(' "$@"', "").replace(" >/dev/null", "")
        script_cmake.append(line)
configure_and_build = [c for c in docker_cmake if not c.startswith("cmake --install")]
if configure_and_build != script_cmake:
    problems.append("Dockerfile: %s\nscripts/build.sh: %s" % (configure_and_build, script_cmake))
with open(work + "/docker-build.sh", "w") as f:
    f.write("\n".join(docker_cmake) + "\n")

deps = re.search(r"packages=\((.*?)\)", open(deps_sh).read(), re.S).group(1).split()
build_pkgs = installed(build_stage)
for p in build_pkgs:
    if p not in deps:
        problems.append("the build stage installs %s, which scripts/deps.sh does not" % p)
for p in deps:
    if p.endswith("-dev") and not p.startswith("libclang") and p not in build_pkgs:
        problems.append("the build stage lacks %s from scripts/deps.sh" % p)
with open(work + "/runtime-packages", "w") as f:
    f.write("\n".join(installed(runtime_stage)) + "\n")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
EOF
pass "the build stage runs scripts/build.sh's cmake steps and installs scripts/deps.sh's packages"

# Run those lines here, into a scratch directory instead of /build and /opt/alertq.
sed -e "s| /build| $WORK/build|g" -e "s| /opt/alertq| $WORK/prefix|g" -e "s| /src| $SOURCE_DIR|g" \
	"$WORK/docker-build.sh" >"$WORK/local-build.sh"
(cd "$SOURCE_DIR" && bash -euo pipefail "$WORK/local-build.sh") >"$WORK/build.out" 2>"$WORK/build.err" ||
	fail "the Dockerfile's build steps failed here: $(tr '\n' ';' <"$WORK/local-build.sh")"
installed=$(find "$WORK/prefix/bin" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ')
[ "$installed" = "alertq alertq-devbroker alertq-producer alertq-worker " ] ||
	fail "the image would get '$installed', expected the four programs"
for prog in alertq alertq-producer alertq-worker alertq-devbroker; do
	"$WORK/prefix/bin/$prog" --version | grep -Eq "^$prog [0-9]+\.[0-9]+" || fail "$prog --version after the image's build steps"
done
pass "the Dockerfile's build steps build and install alertq, alertq-producer, alertq-worker, alertq-devbroker here"

# --- the runtime stage has every library the programs load -------------------------------

# The Debian package that holds the file $1 (as named, resolved, with or without
# the /usr of a merged /usr).
package_of() {
	local f candidate pkg
	f=$(readlink -f "$1")
	for candidate in "$1" "$f" "${1#/usr}" "${f#/usr}" "/usr$1" "/usr$f"; do
		# awk reads all it is given: an early exit would kill the writer with
		# SIGPIPE, which pipefail turns into a failure
		pkg=$(dpkg -S "$candidate" 2>/dev/null | awk -F: 'NR == 1 { print $1 }') || true
		[ -n "$pkg" ] && { echo "$pkg"; return 0; }
	done
	return 1
}

for prog in "$WORK"/prefix/bin/*; do
	readelf -d "$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
done | sort -u >"$WORK/needed"
[ -s "$WORK/needed" ] || fail "no shared libraries found in the programs"
while read -r lib; do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }')
	[ -n "$path" ] || fail "cannot find $lib"
	pkg=$(package_of "$path") || fail "no Debian package holds $path"
	[ "$pkg" = libc6 ] && continue
	grep -qx "$pkg" "$WORK/runtime-packages" || fail "$lib comes from $pkg, which the runtime stage does not install"
done <"$WORK/needed"
pass "the runtime stage installs the package of every library: $(tr '\n' ' ' <"$WORK/needed")"

echo "all compose tests passed"

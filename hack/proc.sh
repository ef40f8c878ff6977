#!/usr/bin/env bash
# Process helpers for the local cluster: start a daemon with its log and pid file under $HAEIN_STATE, check
# it, stop it, and wait for conditions. Sourced after lib.sh, never run.

# proc_start NAME CMD...: runs CMD in its own session, logging to $HAEIN_STATE/logs/NAME.log. The command line
# is recorded (NUL-separated) in $HAEIN_STATE/pids/NAME.cmd so that proc_restart can start it again.
proc_start() {
  local name="$1"; shift
  mkdir -p "$HAEIN_STATE/logs" "$HAEIN_STATE/pids"
  printf '%s\0' "$@" > "$HAEIN_STATE/pids/$name.cmd"
  setsid nohup "$@" >>"$HAEIN_STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$HAEIN_STATE/pids/$name.pid"
}

# proc_restart NAME [SIGNAL]: sends SIGNAL (default KILL) to NAME's process group, waits until it has exited
# and starts it again with the command line proc_start recorded (its data, e.g. etcd's, is kept).
proc_restart() {
  local name="$1" sig="${2:-KILL}" f="$HAEIN_STATE/pids/$1.pid" c="$HAEIN_STATE/pids/$1.cmd" pid i
  [ -f "$c" ] || die "no recorded command for $name in $c (was it started by proc_start?)"
  local -a cmd; mapfile -d '' cmd < "$c"
  if [ -f "$f" ]; then
    pid="$(cat "$f")"
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) did not exit after SIG$sig"
  fi
  proc_start "$name" "${cmd[@]}"
}

# proc_running NAME: true when NAME's recorded pid is alive.
proc_running() {
  local f="$HAEIN_STATE/pids/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# proc_stop NAME: SIGTERM the process group, then SIGKILL after a grace period.
proc_stop() {
  local f="$HAEIN_STATE/pids/$1.pid" pid i
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f" "$HAEIN_STATE/pids/$1.cmd"
}

# proc_fail NAME: print the tail of NAME's log and die.
proc_fail() {
  echo "----- last lines of $HAEIN_STATE/logs/$1.log -----" >&2
  tail -n 30 "$HAEIN_STATE/logs/$1.log" >&2 2>/dev/null || true
  die "$1 did not come up; full log: $HAEIN_STATE/logs/$1.log"
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.25 s until it succeeds or the time is up.
wait_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then warn "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.25
  done
}

# port_free PORT: true when nothing listens on the TCP port.
port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
# port_owner PORT: which process listens there, for error messages.
port_owner() { ss -Htlnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\))).*/\1/p' | head -1; }

# Sourced by bin/configsync-agent and bin/configsync-cp (not run on its own): finds the jar and
# starts it with the JVM options those launchers chose from measurements (docs/operations.md,
# "Sizing"), then the user's options, which win:
#   JAVA_OPTS, then CONFIGSYNC_JAVA_OPTS   JVM options, appended after the defaults. Any -Xmx, -Xms
#                                          or -XX:*RAMPercentage / -XX:MaxRAM drops the default heap
#                                          options; any -XX:+Use...GC drops the default collector's.
#   CONFIGSYNC_JAR                         the jar to run, if not beside the launcher
#   JAVA_HOME                              the JDK or JRE to run (else `java` on the PATH)
# The launcher sets: launcher_dir, jar_name, jar_module, gc_defaults, heap_defaults.

# Word splitting of the option strings is wanted, globbing is not.
set -f
user_opts="${JAVA_OPTS:-} ${CONFIGSYNC_JAVA_OPTS:-}"
for opt in $user_opts; do
  case $opt in
    -XX:+Use*GC) gc_defaults= ;;
    -Xmx* | -Xms* | -XX:MaxRAMPercentage=* | -XX:InitialRAMPercentage=* | -XX:MinRAMPercentage=* | -XX:MaxRAM=*) heap_defaults= ;;
  esac
done

jar="${CONFIGSYNC_JAR:-}"
if [ -z "$jar" ]; then
  # Installed (/opt/configsync/bin/x -> /opt/configsync/x.jar, or lib/), or a source checkout.
  for candidate in "$launcher_dir/../$jar_name" "$launcher_dir/../lib/$jar_name" \
    "$launcher_dir/../$jar_module/target/$jar_name"; do
    if [ -f "$candidate" ]; then
      jar=$candidate
      break
    fi
  done
fi
if [ -z "$jar" ] || [ ! -f "$jar" ]; then
  echo "${0##*/}: cannot find $jar_name beside $launcher_dir: set CONFIGSYNC_JAR to its path" >&2
  exit 1
fi

# -XX:+ExitOnOutOfMemoryError: a process out of heap exits (and is restarted by its supervisor)
# rather than running on half-broken.
# shellcheck disable=SC2086
exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" -XX:+ExitOnOutOfMemoryError $gc_defaults $heap_defaults \
  $user_opts -jar "$jar" "$@"

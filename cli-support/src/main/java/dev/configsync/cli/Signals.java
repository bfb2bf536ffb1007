package dev.configsync.cli;

import java.lang.reflect.Proxy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Handles SIGTERM and SIGINT so that a command stops cleanly and exits with status 0.
 *
 * <p>A JVM shutdown hook alone cannot do that: once the JVM has begun to shut down on a signal, it
 * exits with 128 + the signal number whatever the hook does. So the signals are taken over with
 * {@code sun.misc.Signal} (module {@code jdk.unsupported}, present in every OpenJDK build), which
 * turns them into a stop request that the main thread handles like any other. The class is reached
 * by reflection because javac's warning about it cannot be suppressed, and the build treats
 * warnings as errors. Where the class is missing or the JVM runs with {@code -Xrs}, {@link
 * #install} returns false and the caller falls back on a shutdown hook.
 */
final class Signals {
  private static final Logger log = LoggerFactory.getLogger(Signals.class);

  private Signals() {}

  /**
   * Makes SIGTERM and SIGINT call {@code action}. True when both handlers are in place.
   *
   * @param commandName names the handlers (for thread dumps)
   */
  static boolean install(String commandName, Runnable action) {
    boolean term = handle(commandName, "TERM", action);
    boolean interrupt = handle(commandName, "INT", action);
    return term && interrupt;
  }

  private static boolean handle(String commandName, String name, Runnable action) {
    try {
      Class<?> signalClass = Class.forName("sun.misc.Signal");
      Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
      Object signal = signalClass.getConstructor(String.class).newInstance(name);
      Object handler =
          Proxy.newProxyInstance(
              handlerClass.getClassLoader(),
              new Class<?>[] {handlerClass},
              (proxy, method, args) ->
                  switch (method.getName()) {
                    case "handle" -> {
                      log.info("SIG{} received: stopping", name);
                      action.run();
                      yield null;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> args != null && args.length == 1 && proxy == args[0];
                    default -> commandName + " SIG" + name + " handler";
                  });
      signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, signal, handler);
      return true;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      log.debug("cannot handle SIG{} directly: {}", name, e.toString());
      return false;
    }
  }
}

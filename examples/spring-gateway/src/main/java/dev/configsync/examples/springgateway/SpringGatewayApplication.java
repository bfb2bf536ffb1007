package dev.configsync.examples.springgateway;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The gateway: Spring Cloud Gateway whose routes come from the control plane, through {@code
 * configsync-spring-cloud-gateway}. Its settings are in {@code application.yml}.
 */
@SpringBootApplication
public class SpringGatewayApplication {

  /** Creates the application; Spring calls it. */
  public SpringGatewayApplication() {}

  /** Runs the gateway until it is stopped (SIGTERM or Ctrl-C close it cleanly). */
  public static void main(String[] args) {
    SpringApplication.run(SpringGatewayApplication.class, args);
  }
}

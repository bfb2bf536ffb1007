package dev.configsync.spring.boot;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Turns an {@link InvalidConfigSyncPropertyException} into Spring Boot's start-up failure report.
 */
final class InvalidConfigSyncPropertyFailureAnalyzer
    extends AbstractFailureAnalyzer<InvalidConfigSyncPropertyException> {

  @Override
  protected FailureAnalysis analyze(
      Throwable rootFailure, InvalidConfigSyncPropertyException cause) {
    return new FailureAnalysis(
        "The configsync property '"
            + cause.property()
            + "' is not usable:\n\n    "
            + cause.getMessage(),
        "Correct '"
            + cause.property()
            + "' in the application's configuration (see docs/spring.md for every configsync"
            + " property).",
        cause);
  }
}

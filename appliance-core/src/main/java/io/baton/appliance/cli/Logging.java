package io.baton.appliance.cli;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;

/** Client commands log only warnings; the long-running commands raise the level. */
final class Logging {

    private Logging() {
    }

    static void setLevel(Level level) {
        Configurator.setRootLevel(level);
    }
}

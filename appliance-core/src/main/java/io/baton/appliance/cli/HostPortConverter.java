package io.baton.appliance.cli;

import io.baton.config.HostPort;
import picocli.CommandLine;

/** Reads {@code HOST:PORT} options such as {@code --admin 127.0.0.1:9090}. */
final class HostPortConverter implements CommandLine.ITypeConverter<HostPort> {

    @Override
    public HostPort convert(String value) {
        return HostPort.parse(value, false).orElseThrow(() ->
                new CommandLine.TypeConversionException("\"" + value + "\" is not an IPv4 address:port"));
    }
}

package io.baton.config;

import java.time.Duration;
import java.util.List;

/**
 * How every real server of a service is checked. Rise and fall have HAProxy's meaning: that many
 * consecutive successes (failures) mark a server up (down). Type-specific fields are null for
 * other types.
 *
 * @param port           check this port instead of the server's; null for the server's own
 * @param method         http/https: request method
 * @param path           http/https: request path
 * @param host           http/https: Host header; null for the server address
 * @param expectStatus   http/https: statuses that count as up
 * @param bodyRegex      http/https: the body must contain a match; null for no body check
 * @param verifyTls      https: verify the server certificate
 * @param callingAeTitle dicom-echo, dicom-find: our AE title
 * @param calledAeTitle  dicom-echo, dicom-find: the server's AE title
 * @param hl7            hl7: the test message and the acknowledgements that count as up
 * @param script         external: the program to run ($1 VIP, $2 VIP port, $3 server IP, $4 server port)
 */
public record HealthCheck(
        CheckType type,
        Duration interval,
        Duration timeout,
        int rise,
        int fall,
        Integer port,
        String method,
        String path,
        String host,
        List<Integer> expectStatus,
        String bodyRegex,
        Boolean verifyTls,
        String callingAeTitle,
        String calledAeTitle,
        Hl7Probe hl7,
        String script) {

    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(2);
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);
    public static final int DEFAULT_RISE = 2;
    public static final int DEFAULT_FALL = 3;
    public static final String DEFAULT_CALLING_AE = "BATON";
    public static final String DEFAULT_CALLED_AE = "ANY-SCP";

    public HealthCheck {
        expectStatus = expectStatus == null ? null : List.copyOf(expectStatus);
    }

    public static HealthCheck connect() {
        return new HealthCheck(CheckType.CONNECT, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_RISE, DEFAULT_FALL,
                null, null, null, null, null, null, null, null, null, null, null);
    }
}

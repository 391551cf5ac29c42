package io.baton.health.check;

import io.baton.config.CheckType;
import io.baton.config.HealthCheck;
import io.baton.health.CheckResult;
import io.baton.health.CheckTarget;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.regex.Pattern;

/**
 * {@code http} and {@code https}: sends one request and judges the status (and optionally the
 * body). TLS certificates are not verified unless {@code verify-tls: true}: servers behind a load
 * balancer often carry certificates for the public name, not their own address.
 */
final class HttpChecker implements Checker {

    /** Enough of a body for a health page; the rest is not read. */
    private static final int MAX_BODY_BYTES = 64 * 1024;

    @Override
    public CheckResult check(CheckTarget target, Deadline deadline) throws Exception {
        HealthCheck check = target.check();
        String host = check.host() != null ? check.host() : target.host() + ":" + target.port();
        deadline.phaseOnceConnected(check.type() == CheckType.HTTPS ? "in the TLS handshake" : "sending the request");
        try (Socket socket = open(target, check, deadline)) {
            deadline.phase("waiting for the HTTP status line");
            OutputStream out = socket.getOutputStream();
            out.write((check.method() + " " + check.path() + " HTTP/1.1\r\nHost: " + host
                    + "\r\nUser-Agent: baton-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            String statusLine = readLine(in, socket, deadline);
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/") || !parts[1].matches("\\d{3}")) {
                return CheckResult.down("not an HTTP answer: \"" + abbreviate(statusLine) + "\"");
            }
            int status = Integer.parseInt(parts[1]);
            List<Integer> expected = check.expectStatus();
            if (!expected.contains(status)) {
                return CheckResult.down("HTTP " + status + " (expected " + join(expected) + ")");
            }
            if (check.bodyRegex() != null) {
                deadline.phase("reading the HTTP headers");
                while (!readLine(in, socket, deadline).isEmpty()) {
                    // skip the headers
                }
                deadline.phase("reading the HTTP body");
                String body = readBody(in, socket, deadline);
                if (!Pattern.compile(check.bodyRegex()).matcher(body).find()) {
                    return CheckResult.down("HTTP " + status + " but the body does not match /" + check.bodyRegex() + "/");
                }
            }
            return CheckResult.up("HTTP " + status);
        }
    }

    private static Socket open(CheckTarget target, HealthCheck check, Deadline deadline) throws Exception {
        Socket plain = deadline.connect(target.host(), target.port());
        if (check.type() != CheckType.HTTPS) {
            return plain;
        }
        try {
            boolean verify = Boolean.TRUE.equals(check.verifyTls());
            SSLContext context = verify ? SSLContext.getDefault() : trustingContext();
            String serverName = check.host() != null ? check.host().replaceFirst(":\\d+$", "") : target.host();
            SSLSocket tls = deadline.guard((SSLSocket) context.getSocketFactory()
                    .createSocket(plain, serverName, target.port(), true));
            SSLParameters parameters = tls.getSSLParameters();
            if (verify) {
                parameters.setEndpointIdentificationAlgorithm("HTTPS");
            }
            if (!serverName.matches("[0-9.]+")) {
                parameters.setServerNames(List.of(new SNIHostName(serverName)));
            }
            tls.setSSLParameters(parameters);
            deadline.beforeRead(tls);
            tls.startHandshake();
            return tls;
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            plain.close();
            throw e;
        }
    }

    private static SSLContext trustingContext() throws GeneralSecurityException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
                // not verified on purpose (verify-tls: false)
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                // not verified on purpose (verify-tls: false)
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        return context;
    }

    private static String readLine(InputStream in, Socket socket, Deadline deadline) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (line.size() < 8192) {
            deadline.beforeRead(socket);
            int b = in.read();
            if (b < 0 || b == '\n') {
                break;
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return line.toString(StandardCharsets.ISO_8859_1);
    }

    private static String readBody(InputStream in, Socket socket, Deadline deadline) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        while (body.size() < MAX_BODY_BYTES) {
            deadline.beforeRead(socket);
            int read = in.read(buffer);
            if (read < 0) {
                break;
            }
            body.write(buffer, 0, read);
        }
        return body.toString(StandardCharsets.UTF_8);
    }

    private static String join(List<Integer> statuses) {
        return String.join(" or ", statuses.stream().map(String::valueOf).toList());
    }

    static String abbreviate(String text) {
        return text.length() <= 60 ? text : text.substring(0, 60) + "...";
    }
}

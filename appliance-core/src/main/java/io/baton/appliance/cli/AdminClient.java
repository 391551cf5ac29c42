package io.baton.appliance.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.appliance.admin.AdminApi;
import io.baton.config.HostPort;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/** Talks to a node's admin API for the CLI. */
public final class AdminClient {

    static final ObjectMapper MAPPER = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final HostPort address;
    private final String token;
    private final String reason;
    /** The certificates an HTTPS node's must chain to; null: plain HTTP. */
    private final SSLContext tls;
    private final HttpClient http;

    public AdminClient(HostPort address) {
        this(address, null);
    }

    /** @param token the admin API token sent as {@code Authorization: Bearer}; null for none */
    public AdminClient(HostPort address, String token) {
        this(address, token, null, null);
    }

    /** @param tls from {@link #trusting}: HTTPS to a node whose certificate chains to those; null: plain HTTP */
    public AdminClient(HostPort address, String token, SSLContext tls) {
        this(address, token, null, tls);
    }

    private AdminClient(HostPort address, String token, String reason, SSLContext tls) {
        this.address = address;
        this.token = token;
        this.reason = reason;
        this.tls = tls;
        HttpClient.Builder builder = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(3));
        if (tls != null) {
            builder.sslContext(tls);
        }
        this.http = builder.build();
    }

    /**
     * A TLS context trusting only the certificates in the PEM file {@code caFile} (a CA, or a
     * node's own self-signed certificate); null for null. A file that cannot be used is an
     * {@link IllegalArgumentException} naming it.
     */
    static SSLContext trusting(java.nio.file.Path caFile) {
        if (caFile == null) {
            return null;
        }
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(caFile)) {
            java.util.Collection<? extends java.security.cert.Certificate> certificates =
                    java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (certificates.isEmpty()) {
                throw new IllegalArgumentException("--cacert " + caFile + " holds no certificate");
            }
            java.security.KeyStore store = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (java.security.cert.Certificate certificate : certificates) {
                store.setCertificateEntry("ca-" + i++, certificate);
            }
            javax.net.ssl.TrustManagerFactory trust = javax.net.ssl.TrustManagerFactory.getInstance(
                    javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("--cacert " + caFile + ": no such file");
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalArgumentException("--cacert " + caFile + ": not a PEM certificate file: " + e.getMessage());
        }
    }

    /**
     * This client, sending {@code reason} with each request (as {@link AdminApi#REASON_HEADER},
     * percent-encoded UTF-8): the audit trail records it with the change. Null or blank: none.
     */
    public AdminClient withReason(String reason) {
        return new AdminClient(address, token, reason == null || reason.isBlank() ? null : reason, tls);
    }

    /**
     * The token to send: from {@code file} if given, else from the file {@code $BATON_TOKEN_FILE}
     * names, else {@code $BATON_TOKEN}, else none. A file holds the secret alone or one token file
     * line (NAME ROLE SECRET); a file that cannot be read is an {@link IllegalArgumentException} naming it.
     */
    static String token(java.nio.file.Path file, java.util.Map<String, String> environment) {
        java.nio.file.Path from = file;
        if (from == null && environment.get(AdminOption.TOKEN_FILE_ENV) != null
                && !environment.get(AdminOption.TOKEN_FILE_ENV).isBlank()) {
            from = java.nio.file.Path.of(environment.get(AdminOption.TOKEN_FILE_ENV));
        }
        if (from == null) {
            String value = environment.get(AdminOption.TOKEN_ENV);
            return value == null || value.isBlank() ? null : value.strip();
        }
        String text;
        try {
            if (java.nio.file.Files.size(from) > 64 * 1024) {
                throw wrongTokenFile("token file " + from + " is larger than 64 KiB: not a token");
            }
            text = java.nio.file.Files.readString(from).strip();
        } catch (IOException e) {
            throw wrongTokenFile("cannot read the token file " + from + ": " + e.getMessage());
        }
        String[] fields = text.split("\\s+");
        if (text.isEmpty() || (fields.length != 1 && fields.length != 3)) {
            throw wrongTokenFile("token file " + from + " holds neither a secret nor one line of NAME ROLE SECRET");
        }
        return fields[fields.length - 1];
    }

    private static IllegalArgumentException wrongTokenFile(String message) {
        return new IllegalArgumentException(message);
    }

    /** One answer: its status and its JSON body. */
    public record Response(int status, String body) {

        public JsonNode json() {
            try {
                return MAPPER.readTree(body);
            } catch (JacksonException e) {
                return MAPPER.createObjectNode().put("error", "the node answered " + status + " without JSON");
            }
        }

        public <T> T as(Class<T> type) throws JacksonException {
            return MAPPER.readValue(body, type);
        }

        /** The {@code error} a node gives with a 4xx or 5xx. */
        public String error() {
            return json().path("error").asText("HTTP " + status);
        }
    }

    public Response get(String path) throws NodeUnreachableException {
        return send(request(path).GET().build());
    }

    public Response put(String path, String contentType, String body) throws NodeUnreachableException {
        return send(request(path).header("Content-Type", contentType)
                .PUT(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    public Response post(String path, String json) throws NodeUnreachableException {
        return send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    private String scheme() {
        return tls == null ? "http" : "https";
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(scheme() + "://" + address + path))
                .timeout(Duration.ofSeconds(30));
        if (token != null) {
            builder.header("Authorization", "Bearer " + token);
        }
        if (reason != null) {
            builder.header(AdminApi.REASON_HEADER, java.net.URLEncoder.encode(reason, StandardCharsets.UTF_8));
        }
        return builder;
    }

    private Response send(HttpRequest request) throws NodeUnreachableException {
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            return new Response(response.statusCode(), response.body());
        } catch (ConnectException e) {
            throw unreachable("connection refused", e);
        } catch (HttpTimeoutException e) {
            throw unreachable("no answer in time", e);
        } catch (IOException e) {
            throw unreachable(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unreachable("interrupted", e);
        }
    }

    private NodeUnreachableException unreachable(String why, Exception cause) {
        return new NodeUnreachableException("cannot reach the node's admin API at " + scheme() + "://" + address + ": " + why
                + " (is the node running? choose another with --admin HOST:PORT"
                + (tls == null ? "; a node serving HTTPS needs --cacert FILE" : "; does --cacert hold the certificate"
                + " the node shows, naming " + address.host() + "?") + ")", cause);
    }
}

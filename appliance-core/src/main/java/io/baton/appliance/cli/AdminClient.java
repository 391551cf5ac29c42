package io.baton.appliance.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.config.HostPort;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;

/** Talks to a node's admin API for the CLI. */
public final class AdminClient {

    static final ObjectMapper MAPPER = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final HostPort address;
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(3))
            .build();

    public AdminClient(HostPort address) {
        this.address = address;
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

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://" + address + path)).timeout(Duration.ofSeconds(30));
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
        return new NodeUnreachableException("cannot reach the node's admin API at http://" + address + ": " + why
                + " (is the node running? choose another with --admin HOST:PORT)", cause);
    }
}

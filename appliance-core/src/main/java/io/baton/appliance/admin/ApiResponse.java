package io.baton.appliance.admin;

import java.nio.charset.StandardCharsets;

/** An admin API answer, independent of the HTTP server that sends it. */
public record ApiResponse(int status, String contentType, byte[] body, String allow) {

    public static final String JSON = "application/json";

    public static ApiResponse json(int status, String body) {
        return new ApiResponse(status, JSON, (body + "\n").getBytes(StandardCharsets.UTF_8), null);
    }

    public ApiResponse withAllow(String methods) {
        return new ApiResponse(status, contentType, body, methods);
    }
}

package io.baton.forwarding.l7;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Framing checks, the first thing after the codec: a request head the decoder could not read, or
 * one whose framing {@link HttpFraming} refuses, goes on as a {@link ClientRequest.Refused} in its
 * place (answered in turn: a pipelined request is answered after those before it), and nothing
 * after it is passed on (where its body ends is not known). A head that passes goes on as a
 * {@link ClientRequest}, rewritten for the server: canonical framing, no hop-by-hop fields,
 * HTTP/1.1.
 */
final class RequestGate extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LogManager.getLogger(RequestGate.class);

    private final String service;
    private boolean refused;

    RequestGate(String service) {
        this.service = service;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!(msg instanceof HttpRequest head)) {
            ctx.fireChannelRead(msg);
            return;
        }
        ClientRequest.Refused refusal = judge(head);
        if (refusal != null) {
            refused = true;
            ReferenceCountUtil.release(head);
            if (!(head.decoderResult().isFailure())) {
                LOG.info("{}: refused a request from {}: {}", service, ctx.channel().remoteAddress(), refusal.reason());
            }
            ctx.fireChannelRead(refusal);
            return;
        }
        boolean keepAlive = HttpUtil.isKeepAlive(head); // before the Connection field goes
        HttpFraming.prepareForwarding(head.headers());
        head.setProtocolVersion(HttpVersion.HTTP_1_1);
        ctx.fireChannelRead(new ClientRequest(head, keepAlive, null));
    }

    private static ClientRequest.Refused judge(HttpRequest head) {
        if (head.decoderResult().isFailure()) {
            Throwable cause = head.decoderResult().cause();
            if (cause instanceof TooLongHttpHeaderException) {
                return new ClientRequest.Refused(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "request headers too large");
            } else if (cause instanceof TooLongHttpLineException) {
                return new ClientRequest.Refused(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line too long");
            } else if (cause instanceof TooLongFrameException) {
                return new ClientRequest.Refused(HttpResponseStatus.BAD_REQUEST, "request too large");
            }
            return new ClientRequest.Refused(HttpResponseStatus.BAD_REQUEST, "malformed request");
        }
        HttpFraming.Refusal refusal = HttpFraming.request(head);
        return refusal == null ? null : new ClientRequest.Refused(refusal.status(), refusal.reason());
    }
}

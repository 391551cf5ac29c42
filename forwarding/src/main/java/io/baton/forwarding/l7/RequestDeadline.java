package io.baton.forwarding.l7;

import io.baton.forwarding.ServicePool;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;

/**
 * The request deadlines (HAProxy's {@code timeout http-request}): a client owes a whole request
 * head within {@code timeouts.http-request} from the moment the proxy waits for it (when the
 * connection opens, and when the last answer it owed is written), and then its body up to
 * {@code limits.request-buffer} (what is read before a server is chosen) within
 * {@code timeouts.http-body}. Past a deadline a {@link Expired} event goes down the pipeline (the
 * exchange answers 408). A
 * keep-alive connection that sends nothing at all is idle, not slow: {@code client-idle} is its
 * limit, and the deadline starts again; the first request of a connection has no such grace.
 * Raw bytes are counted ahead of the codec ({@link #byteCounter}), since a head that is not
 * complete yet is not decoded yet.
 */
final class RequestDeadline extends ChannelDuplexHandler {

    /** The client did not send a complete request in time. */
    record Expired(boolean body) {
    }

    private final ServicePool pool;
    private ChannelHandlerContext ctx;
    /** Raw bytes read since the proxy started waiting. */
    private long bytesSinceWaiting;
    private boolean firstRequest = true;
    private boolean waiting;
    /** A request head came with a body that is not buffered in full yet. */
    private boolean bodyOwed;
    private long bodyBytes;
    private long deadline;
    /** Request heads read whose final answer is not written yet. */
    private int unanswered;
    /** A final answer's head is written and its last content not yet. */
    private boolean answering;
    private ScheduledFuture<?> timer;
    /** When {@link #timer} fires (System.nanoTime()). */
    private long timerAt;

    RequestDeadline(ServicePool pool) {
        this.pool = pool;
    }

    /** Counts raw bytes ahead of the HTTP decoder, to tell a slow client from an idle one. */
    ChannelInboundHandlerAdapter byteCounter() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext context, Object msg) {
                if (msg instanceof ByteBuf buffer) {
                    bytesSinceWaiting += buffer.readableBytes();
                }
                context.fireChannelRead(msg);
            }
        };
    }

    @Override
    public void channelActive(ChannelHandlerContext context) {
        ctx = context;
        startWaiting();
        context.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext context, Object msg) {
        if (msg instanceof HttpRequest request) {
            firstRequest = false;
            unanswered++;
            if (hasBody(request) && pool.config().limits().requestBuffer() > 0) {
                bodyOwed = true;
                bodyBytes = 0;
                waiting = true;
                deadline = System.nanoTime() + pool.config().timeouts().httpBody().toNanos();
                armFor(deadline);
            } else {
                waiting = false;
            }
        } else if (msg instanceof HttpContent content && bodyOwed) {
            bodyBytes += content.content().readableBytes();
            if (content instanceof LastHttpContent || bodyBytes >= pool.config().limits().requestBuffer()) {
                bodyOwed = false; // more streams as it comes, bounded by client-idle
                waiting = false;
            }
        }
        context.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext context, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse response && response.status().codeClass() != HttpStatusClass.INFORMATIONAL) {
            answering = true;
        }
        if (msg instanceof LastHttpContent && answering) {
            answering = false;
            unanswered = Math.max(0, unanswered - 1);
            if (unanswered == 0 && !bodyOwed) {
                startWaiting();
            }
        }
        context.write(msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext context) {
        waiting = false;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        context.fireChannelInactive();
    }

    /** Whether a head announces a body; a head whose framing is bad is refused after this (RequestGate). */
    private static boolean hasBody(HttpRequest request) {
        if (request.decoderResult().isFailure()) {
            return false;
        }
        try {
            return HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
        } catch (NumberFormatException malformed) {
            return false;
        }
    }

    private void startWaiting() {
        bytesSinceWaiting = 0;
        waiting = true;
        deadline = System.nanoTime() + pool.config().timeouts().httpRequest().toNanos();
        armFor(deadline);
    }

    /**
     * Makes sure the timer fires by {@code at}: one timer at a time, armed again only when a
     * deadline comes earlier than it (not per request: a later one is rechecked when it fires).
     */
    private void armFor(long at) {
        if (timer != null && timerAt - at <= 0) {
            return;
        }
        if (timer != null) {
            timer.cancel(false);
        }
        timerAt = at;
        timer = ctx.executor().schedule(this::check, Math.max(at - System.nanoTime(), 0), TimeUnit.NANOSECONDS);
    }

    private void check() {
        timer = null;
        if (!waiting || !ctx.channel().isActive()) {
            return;
        }
        long remaining = deadline - System.nanoTime();
        if (remaining > 0) {
            armFor(deadline);
        } else if (bodyOwed || bytesSinceWaiting > 0 || firstRequest) {
            waiting = false;
            ctx.fireUserEventTriggered(new Expired(bodyOwed));
        } else {
            startWaiting(); // idle, not slow
        }
    }
}

/**
 * The data planes: schedulers, Maglev, persistence, the L7 proxy (Netty) and the kernel L4 engine (nftables). Arrives with the forwarding issues.
 */
package io.baton.forwarding;

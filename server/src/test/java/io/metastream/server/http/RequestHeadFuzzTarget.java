package io.metastream.server.http;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Any bytes a client sends as a request head: the parser answers a head or refuses it as
 * {@link RequestHead.Malformed} with a 4xx/5xx status, and nothing else; a head it accepts has a
 * method, a path and a body framing a handler can trust.
 */
class RequestHeadFuzzTarget {
    @FuzzTest(maxDuration = "15s")
    void parseAnyHead(byte[] bytes) {
        int end = RequestHead.end(bytes, 0, bytes.length);
        if (end < 0) {
            return;
        }
        try {
            RequestHead head = RequestHead.parse(bytes, end);
            if (head.method().isEmpty() || head.uri() == null || head.contentLength() < -1) {
                throw new AssertionError("accepted a head without method, path or framing: " + head);
            }
        } catch (RequestHead.Malformed refused) {
            if (refused.status < 400 || refused.status > 599) {
                throw new AssertionError("refused with status " + refused.status);
            }
        }
    }
}

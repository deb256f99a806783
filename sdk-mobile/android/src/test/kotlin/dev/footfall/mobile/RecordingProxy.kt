package dev.footfall.mobile

import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger
import java.util.zip.GZIPInputStream

/**
 * An HTTP proxy between the SDK and the collector that records what the collector confirmed.
 *
 * With `upstream` (the real collector's origin) every request is forwarded unchanged and the
 * collector's answer decides what counts as delivered. Without it, the proxy answers
 * `{"success":true}` itself: a stand-in, for machines where the collector is not built.
 *
 * A message counts as delivered when its batch got a 2xx and the per-event results (if any) did not
 * say `retry` or `drop`. It is recorded before the answer goes back to the SDK, so with
 * [responseDelayMs] a test can kill the app while the collector has stored a batch that the app does
 * not know was delivered: the batch must then be sent again, with the same messageIds.
 */
class RecordingProxy(private val upstream: String?) : AutoCloseable {
    private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    private val deliveries = ConcurrentHashMap<String, AtomicInteger>()

    /** Decoded request bodies, in arrival order. */
    val bodies = CopyOnWriteArrayList<String>()
    /** Batch requests received. */
    val requests = AtomicInteger()
    /** Batches the collector stored whose answer has not yet gone back to the SDK. */
    val storedUnanswered = AtomicInteger()
    /** Holds each answer this long after the collector stored the batch. */
    @Volatile var responseDelayMs = 0L
    /** When set, answers with this status instead of forwarding (and records nothing). */
    @Volatile var forcedStatus: Int? = null

    val url: String get() = "http://127.0.0.1:${server.address.port}"

    init {
        server.executor = Executors.newCachedThreadPool { r -> Thread(r).apply { isDaemon = true } }
        server.createContext("/") { exchange -> handle(exchange) }
        server.start()
    }

    /** How many times the collector confirmed each messageId. */
    fun deliveries(): Map<String, Int> = deliveries.mapValues { it.value.get() }

    private fun handle(exchange: HttpExchange) {
        requests.incrementAndGet()
        exchange.use {
            val raw = exchange.requestBody.readBytes()
            val gzipped = exchange.requestHeaders.getFirst("Content-Encoding") == "gzip"
            val body = String(if (gzipped) GZIPInputStream(raw.inputStream()).readBytes() else raw)
            bodies.add(body)
            val forced = forcedStatus
            val answer = when {
                forced != null -> Answer(forced, """{"code":"forced","message":"forced by the test"}""", null)
                upstream != null -> forward(exchange, raw)
                else -> Answer(200, """{"success":true}""", null)
            }
            val stored = forced == null && answer.status in 200..299
            if (stored) {
                record(body, answer.body)
                storedUnanswered.incrementAndGet()
            }
            try {
                if (responseDelayMs > 0) Thread.sleep(responseDelayMs)
                val bytes = answer.body.toByteArray()
                exchange.responseHeaders.add("Content-Type", "application/json")
                answer.retryAfter?.let { exchange.responseHeaders.add("Retry-After", it) }
                exchange.sendResponseHeaders(answer.status, bytes.size.toLong())
                exchange.responseBody.write(bytes)
            } catch (_: java.io.IOException) {
                // The app was killed while waiting: exactly the case under test.
            } finally {
                if (stored) storedUnanswered.decrementAndGet()
            }
        }
    }

    private fun forward(exchange: HttpExchange, raw: ByteArray): Answer {
        val builder = HttpRequest.newBuilder(URI.create(upstream!!.trimEnd('/') + exchange.requestURI.path))
            .timeout(Duration.ofSeconds(30))
            .POST(HttpRequest.BodyPublishers.ofByteArray(raw))
        for (name in listOf("Authorization", "Content-Type", "Content-Encoding")) {
            exchange.requestHeaders.getFirst(name)?.let { builder.header(name, it) }
        }
        return try {
            val response = http.send(builder.build(), HttpResponse.BodyHandlers.ofString())
            Answer(response.statusCode(), response.body(), response.headers().firstValue("Retry-After").orElse(null))
        } catch (e: java.io.IOException) {
            Answer(502, """{"code":"proxy","message":"collector unreachable: ${e.message}"}""", null)
        }
    }

    private fun record(requestBody: String, responseBody: String) {
        val notStored = NOT_STORED.findAll(responseBody).map { it.groupValues[1] }.toSet()
        for (match in MESSAGE_ID.findAll(requestBody)) {
            val id = match.groupValues[1]
            if (id !in notStored) deliveries.computeIfAbsent(id) { AtomicInteger() }.incrementAndGet()
        }
    }

    override fun close() = server.stop(0)

    private data class Answer(val status: Int, val body: String, val retryAfter: String?)

    companion object {
        private val MESSAGE_ID = Regex(""""messageId"\s*:\s*"([^"]+)"""")
        private val NOT_STORED = Regex(""""messageId"\s*:\s*"([^"]+)"\s*,\s*"status"\s*:\s*"(?:retry|drop)"""")
    }
}

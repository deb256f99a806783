package dev.footfall.mobile

import java.util.concurrent.CopyOnWriteArrayList

/** The Kotlin API, in-process, against the collector through a [RecordingProxy]. */
object AnalyticsTest {
    fun tests(): List<Pair<String, () -> Unit>> = listOf(
        "events are delivered with the messageIds track returned" to ::eventsAreDelivered,
        "identify and screen carry the user and properties" to ::identifyAndScreen,
        "bad JSON throws InvalidJson naming the argument" to ::badJsonIsRefused,
        "an empty event name throws InvalidArgument" to ::emptyEventNameIsRefused,
        "the queue is bounded and every drop is observable" to ::queueIsBounded,
        "offline events wait and go when the network returns" to ::offlineThenOnline,
        "the queue and identity survive closing and reopening" to ::survivesReopen,
        "the listener hears uploads and drops" to ::listenerIsCalled,
        "going to the background flushes" to ::backgroundFlushes,
        "a batch refused for an unknown write key is dropped and reported" to ::unknownWriteKey,
    )

    private fun open(
        proxy: RecordingProxy,
        db: String = tempDatabase("api"),
        flushAt: UInt = 1000u,
        maxQueueEvents: UInt = 10_000u,
        writeKey: String = WRITE_KEY,
    ) =
        Analytics(
            AnalyticsConfig(
                writeKey = writeKey,
                endpoint = proxy.url,
                databasePath = db,
                flushAt = flushAt,
                flushIntervalMs = 600_000uL,
                maxQueueEvents = maxQueueEvents,
            ),
        )

    private fun eventsAreDelivered(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        open(proxy).use { analytics ->
            val ids = (0 until 25).map { analytics.track("Product Viewed", """{"sku":"SKU-$it","i":$it}""")!! }
            check(analytics.flushAndWait(20_000uL)) { "the queue did not drain: ${analytics.stats()}" }
            val delivered = proxy.deliveries()
            check(ids.all { it in delivered }) { "missing: ${ids.filter { it !in delivered }}" }
            val stats = analytics.stats()
            check(stats.delivered == 25uL && stats.queuedEvents == 0uL) { "stats: $stats" }
            check(proxy.bodies.any { "\"sku\":\"SKU-7\"" in it }) { "properties were not sent" }
        }
    }

    private fun identifyAndScreen(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        open(proxy).use { analytics ->
            analytics.identify("user-42", """{"plan":"pro"}""")
            analytics.screen("Checkout", """{"step":2}""")
            check(analytics.userId() == "user-42") { "userId: ${analytics.userId()}" }
            check(analytics.flushAndWait(20_000uL)) { "the queue did not drain" }
            val sent = proxy.bodies.joinToString("\n")
            check("\"userId\":\"user-42\"" in sent && "\"plan\":\"pro\"" in sent) { "identify not sent: $sent" }
            check("\"type\":\"screen\"" in sent && "\"name\":\"Checkout\"" in sent) { "screen not sent: $sent" }
        }
    }

    private fun badJsonIsRefused(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        open(proxy).use { analytics ->
            try {
                analytics.track("Clicked", """{"a":""")
                throw AssertionError("bad JSON was accepted")
            } catch (e: FootfallException.InvalidJson) {
                check(e.field == "properties") { "field: ${e.field}" }
            }
            try {
                analytics.identify("u", "[1,2]")
                throw AssertionError("an array was accepted as traits")
            } catch (e: FootfallException.InvalidJson) {
                check(e.field == "traits" && "array" in e.reason) { "${e.field}: ${e.reason}" }
            }
            check(analytics.stats().accepted == 0uL) { "a refused call recorded an event" }
        }
    }

    private fun emptyEventNameIsRefused(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        open(proxy).use { analytics ->
            try {
                analytics.track(" ")
                throw AssertionError("an empty event name was accepted")
            } catch (e: FootfallException.InvalidArgument) {
                check("event name" in e.reason) { e.reason }
            }
        }
    }

    private fun queueIsBounded(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        open(proxy, maxQueueEvents = 10u).use { analytics ->
            analytics.setNetworkAvailable(false)
            val ids = (0 until 30).map { analytics.track("Tapped", """{"i":$it}""")!! }
            val stats = analytics.stats()
            check(stats.queuedEvents == 10uL && stats.droppedQueueFull == 20uL) { "stats: $stats" }
            val dropped = analytics.takeDropped()
            check(dropped.map { it.messageId } == ids.take(20)) { "the oldest 20 must be dropped, got $dropped" }
            check(dropped.all { it.reason == DropReason.QueueFull }) { "reasons: ${dropped.map { it.reason }}" }
            check(proxy.requests.get() == 0) { "uploaded while offline" }
        }
    }

    private fun offlineThenOnline(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        open(proxy, flushAt = 1u).use { analytics ->
            analytics.setNetworkAvailable(false)
            val id = analytics.track("Offline Event")!!
            Thread.sleep(300)
            check(proxy.requests.get() == 0) { "uploaded while offline" }
            analytics.setNetworkAvailable(true)
            eventually<Int>(what = "delivery after reconnecting") { proxy.deliveries()[id] }
        }
    }

    private fun survivesReopen(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        val db = tempDatabase("reopen")
        val (anonymousId, id) = open(proxy, db).use { analytics ->
            analytics.setNetworkAvailable(false)
            analytics.identify("user-7")
            analytics.anonymousId() to analytics.track("Before Restart")!!
        }
        open(proxy, db).use { analytics ->
            check(analytics.anonymousId() == anonymousId) { "the anonymous id changed" }
            check(analytics.userId() == "user-7") { "the user id was lost" }
            check(analytics.stats().queuedEvents == 2uL) { "queue: ${analytics.stats()}" }
            check(analytics.flushAndWait(20_000uL)) { "the queue did not drain" }
            check(id in proxy.deliveries()) { "the queued event was not delivered" }
        }
    }

    private fun listenerIsCalled(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        open(proxy).use { analytics ->
            val uploads = CopyOnWriteArrayList<UploadSummary>()
            val drops = CopyOnWriteArrayList<DroppedEvent>()
            analytics.setListener(object : AnalyticsListener {
                override fun onDropped(events: List<DroppedEvent>) { drops.addAll(events) }
                override fun onUpload(summary: UploadSummary) { uploads.add(summary) }
            })
            analytics.track("Heard")
            check(analytics.flushAndWait(20_000uL)) { "the queue did not drain" }
            eventually(what = "an upload notice") { uploads.firstOrNull { it.delivered == 1u } }
            analytics.setNetworkAvailable(false)
            val id = analytics.track("Discarded")!!
            analytics.setOptedOut(true)
            val drop = eventually(what = "a drop notice") { drops.firstOrNull() }
            check(drop.messageId == id && drop.reason == DropReason.OptedOut) { "drop: $drop" }
        }
    }

    private fun backgroundFlushes(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        open(proxy).use { analytics ->
            val id = analytics.track("Before Background")!!
            Thread.sleep(200)
            check(proxy.requests.get() == 0) { "uploaded before flush_at or the interval" }
            analytics.onBackground()
            eventually<Int>(what = "delivery after onBackground") { proxy.deliveries()[id] }
        }
    }

    private fun unknownWriteKey(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        // The real collector refuses the key itself; the stand-in is told to answer as it would.
        if (collectorUrl == null) proxy.forcedStatus = 401
        open(proxy, writeKey = "wk_nobody_issued").use { analytics ->
            val id = analytics.track("Unauthorized")!!
            check(analytics.flushAndWait(20_000uL)) { "the refused event stayed queued" }
            val dropped = analytics.takeDropped()
            check(dropped.size == 1 && dropped[0].messageId == id) { "dropped: $dropped" }
            val reason = dropped[0].reason
            check(reason is DropReason.Rejected && reason.status.toInt() in 400..499) { "reason: $reason" }
            check(analytics.stats().droppedRejected == 1uL) { "stats: ${analytics.stats()}" }
            check(id !in proxy.deliveries()) { "a refused event counted as delivered" }
        }
    }
}

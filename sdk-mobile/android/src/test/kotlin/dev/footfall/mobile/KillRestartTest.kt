package dev.footfall.mobile

import java.io.File
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess

/**
 * Kills the app's JVM (SIGKILL) while an upload is in flight, restarts it on the same SQLite file,
 * and checks that every event arrives, duplicates only ever repeating a messageId.
 */
object KillRestartTest {
    private const val EVENTS = 200

    fun tests(): List<Pair<String, () -> Unit>> = listOf(
        "kill -9 mid-upload, restart: every event delivered, duplicates share messageIds" to ::killAndRestart,
        "kill -9 mid-write, commit per event: every recorded event survives" to { killWhileTracking(1u) },
        "kill -9 mid-write, batched writes: only the open batch's tail is lost" to { killWhileTracking(200u) },
    )

    fun child(vararg args: String): ProcessBuilder {
        val java = File(System.getProperty("java.home"), "bin/java").path
        val command = listOf(
            java,
            "-Djna.library.path=${System.getProperty("jna.library.path") ?: ""}",
            "-cp", System.getProperty("java.class.path"),
            KillChild::class.java.name,
        ) + args
        return ProcessBuilder(command).redirectErrorStream(true)
    }

    private fun killAndRestart(): Unit = RecordingProxy(collectorUrl).use { proxy ->
        val db = tempDatabase("kill")
        val idsFile = File(File(db).parentFile, "tracked.txt")
        val log = File(File(db).parentFile, "child.log")

        // 1. The app tracks, flushes, and is killed while the collector holds a stored batch's answer.
        proxy.responseDelayMs = 300
        val app = child("track", db, proxy.url, EVENTS.toString(), idsFile.path)
            .redirectOutput(log).start()
        eventually(30_000, "an upload in flight after a few delivered") {
            (proxy.requests.get() >= 4 && proxy.storedUnanswered.get() == 1).takeIf { it }
        }
        app.destroyForcibly()
        check(app.waitFor(10, TimeUnit.SECONDS)) { "the app did not die" }
        val tracked = idsFile.readLines().filter { it.isNotBlank() }
        check(tracked.size == EVENTS) { "the app tracked ${tracked.size} events: ${log.readText()}" }
        val beforeRestart = proxy.deliveries().keys
        check(beforeRestart.size in 1 until EVENTS) { "kill was not mid-upload: ${beforeRestart.size} delivered" }

        // 2. The app starts again on the same database and uploads what is left.
        proxy.responseDelayMs = 0
        val restarted = child("resume", db, proxy.url).redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start()
        check(restarted.waitFor(60, TimeUnit.SECONDS)) { "the restarted app did not finish" }
        check(restarted.exitValue() == 0) { "the restarted app failed: ${log.readText()}" }

        // 3. Every event arrived; whatever arrived twice has a messageId the app issued.
        val deliveries = proxy.deliveries()
        val missing = tracked.filter { it !in deliveries }
        check(missing.isEmpty()) { "${missing.size} events lost, e.g. ${missing.take(3)}" }
        val unknown = deliveries.keys - tracked.toSet()
        check(unknown.isEmpty()) { "messageIds the app never issued: $unknown" }
        val duplicated = deliveries.filterValues { it > 1 }.keys
        check(duplicated.isNotEmpty()) { "the batch in flight at the kill should have been sent twice" }
        println("  tracked $EVENTS, delivered ${deliveries.size} distinct, ${duplicated.size} twice (same messageId)")
    }
}

private fun killWhileTracking(writeBatchEvents: UInt): Unit = RecordingProxy(collectorUrl).use { proxy ->
    val db = tempDatabase("spam")
    val idsFile = File(File(db).parentFile, "recorded.txt")
    val log = File(File(db).parentFile, "child.log")
    val app = KillRestartTest.child("spam", db, proxy.url, idsFile.path, writeBatchEvents.toString())
        .redirectOutput(log).start()
    eventually(30_000, "the app to record 1000 events") {
        (idsFile.exists() && idsFile.length() > 1000L * 37).takeIf { it }
    }
    app.destroyForcibly()
    check(app.waitFor(10, TimeUnit.SECONDS)) { "the app did not die" }
    val recorded = idsFile.readLines().filter { it.length == 36 }

    val restarted = KillRestartTest.child("resume", db, proxy.url)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start()
    check(restarted.waitFor(90, TimeUnit.SECONDS)) { "the restarted app did not finish" }
    check(restarted.exitValue() == 0) { "the restarted app failed: ${log.readText()}" }

    val delivered = proxy.deliveries().keys
    val missing = recorded.filter { it !in delivered }
    if (writeBatchEvents <= 1u) {
        check(missing.isEmpty()) { "${missing.size} of ${recorded.size} recorded events lost" }
    } else {
        // Only the open transaction may be lost: the most recent events, at most one batch of them.
        check(missing.size <= writeBatchEvents.toInt()) { "${missing.size} events lost, more than one batch" }
        check(missing == recorded.takeLast(missing.size)) { "a lost event is not from the last batch" }
    }
    // The process may die after a commit but before writing the id to the file: one extra at most.
    check((delivered - recorded.toSet()).size <= 1) { "messageIds the app never issued" }
    println("  recorded ${recorded.size} before the kill, ${missing.size} lost, ${delivered.size} delivered")
}

/**
 * The app killed and restarted by [KillRestartTest]: `track DB URL N IDS_FILE`, `spam DB URL IDS_FILE
 * WRITE_BATCH_EVENTS` (records offline until killed) or `resume DB URL`.
 */
object KillChild {
    @JvmStatic
    fun main(args: Array<String>) {
        val analytics = Analytics(
            AnalyticsConfig(
                writeKey = WRITE_KEY,
                endpoint = args[2],
                databasePath = args[1],
                flushAt = 1000u,
                flushIntervalMs = 600_000uL,
                maxBatchEvents = if (args[0] == "track") 10u else 100u,
                writeBatchEvents = if (args[0] == "spam") args[4].toUInt() else 200u,
            ),
        )
        when (args[0]) {
            "spam" -> {
                analytics.setNetworkAvailable(false)
                java.io.FileOutputStream(args[3]).use { out ->
                    var i = 0
                    while (true) {
                        val id = analytics.track("Spam", """{"i":${i++}}""")!!
                        // Written only once track returned: the file lists events the app was told are recorded.
                        out.write("$id\n".toByteArray())
                    }
                }
            }
            "track" -> {
                val ids = (0 until args[3].toInt()).map { analytics.track("Kill Test", """{"i":$it}""")!! }
                File(args[4]).writeText(ids.joinToString("\n"))
                analytics.flush()
                Thread.sleep(Long.MAX_VALUE)
            }
            "resume" -> {
                val drained = analytics.flushAndWait(45_000uL)
                println("resumed: drained=$drained ${analytics.stats()}")
                analytics.close()
                exitProcess(if (drained) 0 else 2)
            }
        }
    }
}

// A command-line app using Footfall's Kotlin bindings on the JVM: it tracks a few events, flushes and
// prints what happened. Run it with ./run.sh COLLECTOR_URL [WRITE_KEY] [DATABASE].
import dev.footfall.mobile.Analytics
import dev.footfall.mobile.AnalyticsConfig
import dev.footfall.mobile.AnalyticsListener
import dev.footfall.mobile.DroppedEvent
import dev.footfall.mobile.FootfallException
import dev.footfall.mobile.UploadSummary
import java.io.File
import kotlin.system.exitProcess

fun main(args: Array<String>) {
    if (args.isEmpty()) {
        System.err.println("usage: run.sh COLLECTOR_URL [WRITE_KEY] [DATABASE]")
        exitProcess(64)
    }
    val endpoint = args[0]
    val writeKey = args.getOrElse(1) { "wk_example" }
    val database = args.getOrElse(2) { File(System.getProperty("java.io.tmpdir"), "footfall-example.sqlite").path }

    Analytics(AnalyticsConfig(writeKey = writeKey, endpoint = endpoint, databasePath = database)).use { analytics ->
        analytics.setListener(object : AnalyticsListener {
            override fun onUpload(summary: UploadSummary) =
                println("upload: HTTP ${summary.status ?: "network error"}, ${summary.delivered} delivered, ${summary.retrying} to retry")
            override fun onDropped(events: List<DroppedEvent>) =
                events.forEach { println("dropped ${it.messageId}: ${it.reason}") }
        })
        analytics.setContext("""{"app":{"name":"footfall-kotlin-jvm-example","version":"1.0"},"os":{"name":"${System.getProperty("os.name")}"}}""")
        analytics.identify("example-user", """{"plan":"free"}""")
        analytics.screen("Home")
        for (sku in listOf("A-1", "B-2", "C-3")) {
            val id = analytics.track("Product Viewed", """{"sku":"$sku","price":9.99}""")
            println("tracked Product Viewed $sku as $id")
        }
        try {
            analytics.track("Broken", "{not json")
        } catch (e: FootfallException.InvalidJson) {
            println("refused: ${e.message}")
        }
        val drained = analytics.flushAndWait(15_000uL)
        val stats = analytics.stats()
        println("drained=$drained delivered=${stats.delivered} queued=${stats.queuedEvents} anonymousId=${analytics.anonymousId()}")
        if (!drained) exitProcess(1)
    }
}

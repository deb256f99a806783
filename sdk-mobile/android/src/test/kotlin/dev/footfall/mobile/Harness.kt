package dev.footfall.mobile

import java.io.File
import java.nio.file.Files
import kotlin.system.exitProcess

/** The write key the tests use; the collector must accept it (see scripts/test.d/30-mobile.sh). */
const val WRITE_KEY = "wk_mobile_test"

/** The real collector's origin, from FOOTFALL_COLLECTOR_URL, or null to use the proxy's stand-in. */
val collectorUrl: String? = System.getenv("FOOTFALL_COLLECTOR_URL")?.takeIf { it.isNotBlank() }

fun tempDatabase(name: String): String {
    val dir = Files.createTempDirectory("footfall-kt-").toFile()
    dir.deleteOnExit()
    return File(dir, "$name.sqlite").path
}

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

fun <T> eventually(timeoutMs: Long = 20_000, what: String, probe: () -> T?): T {
    val deadline = System.currentTimeMillis() + timeoutMs
    while (System.currentTimeMillis() < deadline) {
        probe()?.let { return it }
        Thread.sleep(20)
    }
    throw AssertionError("timed out after $timeoutMs ms waiting for $what")
}

/**
 * Runs every JVM test of the Kotlin bindings, prints one line per test and the closing
 * "N passed, N failed" line, and exits non-zero if any failed.
 */
object TestRunner {
    @JvmStatic
    fun main(args: Array<String>) {
        val only = args.firstOrNull()
        val tests = (AnalyticsTest.tests() + KillRestartTest.tests()).filter { only == null || it.first.contains(only) }
        println("Kotlin tests against ${collectorUrl ?: "the stand-in collector (FOOTFALL_COLLECTOR_URL unset)"}")
        var passed = 0
        var failed = 0
        for ((name, test) in tests) {
            val started = System.nanoTime()
            try {
                test()
                passed++
                println("PASS $name (${(System.nanoTime() - started) / 1_000_000} ms)")
            } catch (e: Throwable) {
                failed++
                println("FAIL $name: $e")
                e.printStackTrace(System.out)
            }
        }
        println("$passed passed, $failed failed")
        exitProcess(if (failed == 0) 0 else 1)
    }
}

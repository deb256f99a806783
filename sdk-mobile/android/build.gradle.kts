// Android library (AAR): the UniFFI-generated Kotlin in src/main/kotlin plus libfootfall_mobile.so for
// each ABI, built by ../scripts/build-android.sh into src/main/jniLibs (not committed).
plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.2.20"
    `maven-publish`
}

group = "dev.footfall"
version = "0.1.0"

android {
    namespace = "dev.footfall.mobile"
    compileSdk = 35

    defaultConfig {
        minSdk = 23
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets["main"].jniLibs.srcDirs("src/main/jniLibs")

    // The JVM tests in src/test load the host build of the library through JNA
    // (-Djna.library.path=<cargo target>/release); CI runs them with kotlinc directly
    // (scripts/test.d/30-mobile.sh), since Gradle cannot be fetched there.
    testOptions.unitTests.all {
        it.systemProperty("jna.library.path", System.getenv("FOOTFALL_MOBILE_HOST_LIB_DIR") ?: "")
    }

    publishing {
        singleVariant("release") { withSourcesJar() }
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // UniFFI's Kotlin calls the native library through JNA; the @aar carries JNA's Android .so files.
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    testImplementation("net.java.dev.jna:jna:5.17.0")
}

publishing {
    publications {
        register<MavenPublication>("release") {
            artifactId = "footfall-mobile"
            afterEvaluate { from(components["release"]) }
        }
    }
}

// The Android library of Footfall's mobile SDK. Build the native libraries first
// (../scripts/build-android.sh), then: ./gradlew :assembleRelease  → build/outputs/aar/
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "footfall-mobile"

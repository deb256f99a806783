// swift-tools-version:5.7
// Footfall's mobile SDK for iOS and macOS: the UniFFI-generated Swift in Sources/FootfallMobile over the
// Rust library, shipped as FootfallMobileFFI.xcframework (built by ../scripts/build-xcframework.sh).
import PackageDescription

let package = Package(
    name: "FootfallMobile",
    platforms: [.iOS(.v13), .macOS(.v11)],
    products: [
        .library(name: "FootfallMobile", targets: ["FootfallMobile"]),
    ],
    targets: [
        .binaryTarget(name: "FootfallMobileFFI", path: "FootfallMobileFFI.xcframework"),
        .target(
            name: "FootfallMobile",
            dependencies: ["FootfallMobileFFI"],
            path: "Sources/FootfallMobile"
        ),
    ]
)

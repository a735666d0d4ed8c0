//! Why the CUDA provider did not start, in words a producer can act on: ONNX Runtime's own
//! error names the library it could not load deep inside a long message.

/// The library ONNX Runtime's CUDA provider could not load, from its error text: Windows says
/// `depends on "cublasLt64_13.dll" which is missing`, Linux
/// `libcublasLt.so.13: cannot open shared object file`.
pub(super) fn missing_library(error: &str) -> Option<&str> {
    if let Some(start) = error.find("depends on \"") {
        let rest = &error[start + "depends on \"".len()..];
        let name = &rest[..rest.find('"')?];
        return (!name.is_empty()).then_some(name);
    }
    let end = error.find(": cannot open shared object file")?;
    let name = error[..end].rsplit([' ', '/', '\'', '"']).next()?;
    (!name.is_empty()).then_some(name)
}

/// The warning for a CUDA provider that did not start. A missing NVIDIA library gets one
/// message for the whole model (the same for every network, so the load's list dedups it);
/// anything else keeps ONNX Runtime's words and the file.
pub(super) fn cuda_warning(file: &std::path::Path, error: &str) -> String {
    match missing_library(error) {
        Some(library) => format!(
            "CUDA did not start: {library} is missing. Install the NVIDIA CUDA runtime and cuDNN \
             this ONNX Runtime build needs (CUDA 13 and cuDNN 9 for 1.31) and put their \
             libraries on the library path (Windows: PATH, or beside onnxruntime.dll); running \
             on CPU"
        ),
        None => format!(
            "CUDA provider did not start for {}: {error}; running on CPU",
            file.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_library_is_found_in_both_systems_messages() {
        let windows = r#"provider_bridge_ort.cc:2043 onnxruntime::ProviderLibrary::Get [ONNXRuntimeError] : 1 : FAIL : Error loading "Z:\rt\onnxruntime_providers_cuda.dll" which depends on "cublasLt64_13.dll" which is missing. (Error 126: "Module not found.")"#;
        assert_eq!(missing_library(windows), Some("cublasLt64_13.dll"));
        let linux = "Failed to load library libonnxruntime_providers_cuda.so with error: \
                     libcublasLt.so.13: cannot open shared object file: No such file or directory";
        assert_eq!(missing_library(linux), Some("libcublasLt.so.13"));
        assert_eq!(
            missing_library("CUDA failure 100: no CUDA-capable device"),
            None
        );
    }

    #[test]
    fn a_missing_library_gives_one_actionable_message_for_every_network() {
        let error = r#"Error loading "x.dll" which depends on "cudnn64_9.dll" which is missing."#;
        let a = cuda_warning(std::path::Path::new("unet.onnx"), error);
        let b = cuda_warning(std::path::Path::new("decoder.onnx"), error);
        assert_eq!(a, b, "the load's warning list dedups it to one line");
        assert!(
            a.contains("cudnn64_9.dll is missing") && a.contains("running on CPU"),
            "{a}"
        );
        let other = cuda_warning(std::path::Path::new("unet.onnx"), "no CUDA-capable device");
        assert!(other.contains("unet.onnx") && other.contains("no CUDA-capable device"));
    }
}

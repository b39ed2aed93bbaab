# cuda_architectures.cmake: the default CMAKE_CUDA_ARCHITECTURES of cnnkernels._cuda, chosen from the nvcc
# version (a user's -DCMAKE_CUDA_ARCHITECTURES=... wins; this file is then not read). Real code for each GPU
# generation nvcc supports, and PTX for the newest so that later GPUs JIT-compile it.
#   CUDA 13:          75 80 86 89 90 100 120, + compute_120 (13 dropped sm_70 and sm_72)
#   CUDA 12.8 - 12.x: 70 75 80 86 89 90 100 120, + compute_120
#   CUDA 11.8 - 12.7: 70 75 80 86 89 90, + compute_90
#   older:            70 75 80, + compute_80
# nvcc's version is read without enabling the language (enable_language needs the list first).
execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --version OUTPUT_VARIABLE _ck_nvcc_version ERROR_QUIET)
string(REGEX MATCH "release ([0-9]+)\\.([0-9]+)" _ck_match "${_ck_nvcc_version}")
set(_ck_cuda_version "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
if(_ck_cuda_version VERSION_GREATER_EQUAL 13.0)
  set(CMAKE_CUDA_ARCHITECTURES "75-real;80-real;86-real;89-real;90-real;100-real;120-real;120-virtual")
elseif(_ck_cuda_version VERSION_GREATER_EQUAL 12.8)
  set(CMAKE_CUDA_ARCHITECTURES "70-real;75-real;80-real;86-real;89-real;90-real;100-real;120-real;120-virtual")
elseif(_ck_cuda_version VERSION_GREATER_EQUAL 11.8)
  set(CMAKE_CUDA_ARCHITECTURES "70-real;75-real;80-real;86-real;89-real;90-real;90-virtual")
else()
  set(CMAKE_CUDA_ARCHITECTURES "70-real;75-real;80-real;80-virtual")
endif()

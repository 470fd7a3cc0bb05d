# The explain page's style and script (src/explain/page.css, page.js) as
# C arrays in the library, so that a page needs no file beside nabla.
# Included by CMakeLists.txt (remade when either changes: they are
# configure dependencies), or run alone for builds without CMake:
#   cmake -DNABLA_SOURCE_DIR=. -DNABLA_EMBED_C=out.c -P cmake/embed.cmake
if(NOT CMAKE_SCRIPT_MODE_FILE)
  set(NABLA_SOURCE_DIR ${PROJECT_SOURCE_DIR})
  set(NABLA_EMBED_C ${PROJECT_BINARY_DIR}/generated/explain_assets.c)
endif()
set(embed_code "/* Made by cmake/embed.cmake from src/explain/page.css and page.js. */\n")
foreach(asset css js)
  set(asset_file ${NABLA_SOURCE_DIR}/src/explain/page.${asset})
  if(NOT CMAKE_SCRIPT_MODE_FILE)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${asset_file})
  endif()
  file(READ ${asset_file} asset_hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," asset_hex "${asset_hex}")
  string(APPEND embed_code "const unsigned char nb_explain_page_${asset}[] = {${asset_hex} 0};\n")
endforeach()
file(WRITE ${NABLA_EMBED_C}.new "${embed_code}")
configure_file(${NABLA_EMBED_C}.new ${NABLA_EMBED_C} COPYONLY)
if(NOT CMAKE_SCRIPT_MODE_FILE)
  list(APPEND NABLA_SOURCES ${NABLA_EMBED_C})
endif()

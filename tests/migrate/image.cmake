# tests/migrate/image.cmake — mojave-image on a generated sample image and on
# corrupted copies of it (image_inspect.sh says what each case expects).
add_test(NAME image_inspect COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/image_inspect.sh $<TARGET_FILE:mojave-image>)
set_tests_properties(image_inspect PROPERTIES LABELS migrate TIMEOUT 120
  PASS_REGULAR_EXPRESSION "PASS image_inspect" FAIL_REGULAR_EXPRESSION "FAIL")

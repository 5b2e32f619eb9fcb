/* Runner shared by every Check suite: each tests/check_<module>.c is built
 * with SV_SUITE_FN=<module>_suite and linked with this file. */
#include <check.h>
#include <gsl/gsl_errno.h>
#include <stdlib.h>

Suite *SV_SUITE_FN(void);

int main(void)
{
    gsl_set_error_handler_off();
    SRunner *runner = srunner_create(SV_SUITE_FN());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
